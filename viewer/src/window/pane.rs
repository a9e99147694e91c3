//! The side pane of a session window (issue 12): chat with the customer,
//! file transfers both ways, the customer's system information and session
//! notes, toggled with Ctrl+Alt+Shift+T.
//!
//! [`Pane`] is the sans-IO model: it takes what the session reports
//! ([`PaneUpdate`]: the same [`Event`]s headless mode prints as JSON, plus
//! the mode and the names of our own offers), the technician's keys
//! ([`PaneKey`]) and clicks ([`Hit`]), and answers with [`PaneAction`]s
//! that the window turns into the session commands headless mode uses
//! (`chat`, `send`, `accept-file`, `refuse-file`, `cancel-file`, `note`).
//! [`Pane::layout`] places everything (text, fields, progress bars,
//! buttons) as plain [`Item`]s and hit areas, so both drawing and clicks are
//! tested without a display; [`draw`] paints the items.
//!
//! While a field of the pane has the keyboard focus, keys go to the field
//! and not to the customer: Enter sends (chat line, file path, note),
//! Escape leaves the field, Tab goes to the next field, Ctrl+V pastes.
//! In clear (unencrypted) sessions chat and files do not exist: the pane
//! says that they need an encrypted (crypto) technician.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use super::dialog::Area;
use super::text::TextDrawer;
use crate::headless::Event;

/// Width of the pane in pixels.
pub const PANE_WIDTH: u32 = 320;
/// Most chat lines kept per session (older ones are dropped).
pub const MAX_CHAT_LINES: usize = 500;
/// Most transfers kept per session (finished ones go first).
pub const MAX_TRANSFERS: usize = 32;
/// Most notes shown (the log keeps them all).
pub const MAX_NOTES: usize = 16;
/// Longest text a field holds, in characters (the chat limit of the
/// control channel is 4096 bytes).
pub const MAX_INPUT: usize = 1024;

/// Background of the pane.
pub const PANE_BG: u32 = 0x0026_2a30;
/// Normal text.
pub const PANE_FG: u32 = 0x00e4_e7eb;
/// The customer's system information.
pub const INFO_FG: u32 = 0x00f0_d890;
/// Section titles and hints.
pub const MUTED_FG: u32 = 0x0096_a0ac;
/// The customer's name in chat lines.
pub const CUSTOMER_FG: u32 = 0x0070_c8ff;
/// The technician's name in chat lines.
pub const TECHNICIAN_FG: u32 = 0x0070_e070;
/// Errors and the clear-mode notice.
pub const WARN_FG: u32 = 0x00ff_8060;
/// Input fields.
pub const FIELD_BG: u32 = 0x0016_181c;
/// The border of the focused field.
pub const FOCUS_FG: u32 = 0x004a_90e2;
/// Progress bar background.
pub const BAR_BG: u32 = 0x0040_464e;
/// Progress bar fill.
pub const BAR_FG: u32 = 0x004a_90e2;
/// A completed transfer's bar.
pub const DONE_FG: u32 = 0x0040_b060;
/// Accept button.
pub const ACCEPT_BG: u32 = 0x001b_7a3a;
/// Refuse / Cancel buttons.
pub const REFUSE_BG: u32 = 0x00b0_3030;
/// The unread badge in the status bar.
pub const BADGE_BG: u32 = 0x00d0_4040;
/// White text on buttons and the badge.
pub const WHITE: u32 = 0x00ff_ffff;

const PAD: i64 = 8;
const LINE: i64 = 16;
const FIELD_H: i64 = 22;
const BUTTON_H: i64 = 20;
const BAR_H: i64 = 8;
const HEADER_H: i64 = 24;
/// Transfers shown (the newest).
const SHOWN_TRANSFERS: usize = 4;
/// System information lines shown.
const SHOWN_INFO: usize = 8;

/// What the session tells the pane.
#[derive(Debug, Clone, PartialEq)]
pub enum PaneUpdate {
    /// Whether the session is encrypted (chat and files exist) or clear.
    Secure(bool),
    /// The technician offered a file (the name is not in the progress events).
    Offered {
        /// Transfer id.
        id: u32,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// A session event (chat, system information, files, notes, errors).
    Event(Event),
}

impl PaneUpdate {
    /// True for the events the pane shows.
    pub fn wants(event: &Event) -> bool {
        matches!(
            event,
            Event::Chat { .. }
                | Event::SystemInfo { .. }
                | Event::Sharing { .. }
                | Event::FileOffered { .. }
                | Event::FileProgress { .. }
                | Event::FileFinished { .. }
                | Event::Note { .. }
                | Event::Error { .. }
        )
    }
}

/// An input field of the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The chat line.
    Chat,
    /// A path of a file to send.
    SendPath,
    /// A session note for the log.
    Note,
}

impl Field {
    fn index(self) -> usize {
        match self {
            Field::Chat => 0,
            Field::SendPath => 1,
            Field::Note => 2,
        }
    }
}

/// A key for the focused field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneKey {
    /// Typed (or pasted) text.
    Text(String),
    /// Sends the field.
    Enter,
    /// Leaves the field.
    Escape,
    /// Deletes the last character.
    Backspace,
    /// Next field.
    Tab,
}

/// What the technician asked for in the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneAction {
    /// Send a chat line.
    Chat(String),
    /// Offer a file to the customer.
    SendFile(PathBuf),
    /// Accept a file the customer offers.
    AcceptFile(u32),
    /// Refuse a file the customer offers.
    RefuseFile(u32),
    /// Stop a transfer.
    CancelFile(u32),
    /// A session note.
    Note(String),
}

/// Something clickable in the pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// An input field.
    Field(Field),
    /// Accept button of an offer.
    Accept(u32),
    /// Refuse button of an offer.
    Refuse(u32),
    /// Cancel button of a transfer.
    Cancel(u32),
}

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// `HH:MM:SS` (UTC).
    pub time: String,
    /// `customer` or `technician`.
    pub from: String,
    /// The text.
    pub text: String,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// The customer offers it: Accept or Refuse.
    Offered,
    /// We offered it; the customer has not answered.
    Waiting,
    /// Bytes are moving.
    Running,
    /// Ended with this outcome (`done`, `refused…`, `cancelled…`, `failed: …`).
    Finished(String),
}

/// One file transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Transfer id.
    pub id: u32,
    /// True for technician → customer.
    pub to_customer: bool,
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Bytes so far.
    pub done: u64,
    /// State.
    pub state: TransferState,
    /// Where a received file was saved.
    pub path: Option<String>,
}

/// The pane of one session.
#[derive(Debug, Clone, Default)]
pub struct Pane {
    open: bool,
    secure: Option<bool>,
    chat: VecDeque<ChatLine>,
    unread: u32,
    info: BTreeMap<String, String>,
    sharing: Option<String>,
    transfers: Vec<Transfer>,
    notes: VecDeque<String>,
    focus: Option<Field>,
    inputs: [String; 3],
    notice: Option<String>,
    /// Newest chat messages scrolled out of view (mouse wheel).
    scroll: usize,
}

/// A drawing instruction (pane coordinates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A filled rectangle.
    Fill(Area, u32),
    /// Text with its baseline at `y`, clipped at `right`.
    Text {
        /// Left.
        x: i64,
        /// Baseline.
        y: i64,
        /// Right clip.
        right: i64,
        /// The text.
        text: String,
        /// Colour.
        colour: u32,
    },
}

/// Everything the pane shows, placed, and what can be clicked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaneLayout {
    /// Drawing instructions, in order.
    pub items: Vec<Item>,
    /// Clickable areas.
    pub hits: Vec<(Area, Hit)>,
}

impl PaneLayout {
    /// What lies at pane position `(x, y)`.
    pub fn hit(&self, x: f64, y: f64) -> Option<Hit> {
        self.hits
            .iter()
            .find(|(a, _)| a.contains(x, y))
            .map(|(_, h)| *h)
    }

    /// True when some text item contains `needle` (for tests).
    pub fn has_text(&self, needle: &str) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, Item::Text { text, .. } if text.contains(needle)))
    }
}

fn area(x: i64, y: i64, w: i64, h: i64) -> Area {
    let c = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    Area {
        x: c(x),
        y: c(y),
        w: c(w),
        h: c(h),
    }
}

fn human_size(n: u64) -> String {
    if n < 1000 {
        format!("{n} B")
    } else if n < 1_000_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.1} GB", n as f64 / 1e9)
    }
}

/// Splits `text` into lines no wider than `width` pixels (words are kept
/// whole when they fit a line, cut otherwise).
pub fn wrap(text: &str, width: i64, measure: &mut dyn FnMut(&str) -> i64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if measure(&candidate) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // The word alone: cut it when it is too wide.
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if measure(&piece) > width && piece.chars().count() > 1 {
                piece.pop();
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        line = piece;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The tail of `text` that fits `width` pixels.
fn tail_fitting(text: &str, width: i64, measure: &mut dyn FnMut(&str) -> i64) -> String {
    if measure(text) <= width {
        return text.to_string();
    }
    // From the end, one character at a time (linear in the text).
    let room = width - measure("…");
    let mut used = 0;
    let mut tail: Vec<char> = Vec::new();
    let mut buf = [0u8; 4];
    for c in text.chars().rev() {
        used += measure(c.encode_utf8(&mut buf));
        if used > room {
            break;
        }
        tail.push(c);
    }
    std::iter::once('…').chain(tail.into_iter().rev()).collect()
}

impl Pane {
    /// A closed pane, mode not yet known.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when the pane is shown.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Chat lines and file offers that arrived while the pane was hidden.
    pub fn unread(&self) -> u32 {
        self.unread
    }

    /// The focused field (keys go there, not to the customer).
    pub fn focus(&self) -> Option<Field> {
        self.focus
    }

    /// The chat lines, oldest first.
    pub fn chat(&self) -> impl Iterator<Item = &ChatLine> {
        self.chat.iter()
    }

    /// The transfers, oldest first.
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }

    /// The text of a field.
    pub fn input(&self, field: Field) -> &str {
        &self.inputs[field.index()]
    }

    /// The last error or notice.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// True when chat and files can be used (encrypted session).
    pub fn secure(&self) -> bool {
        self.secure == Some(true)
    }

    /// Shows or hides the pane. Opening clears the unread count and puts
    /// the focus on the chat line (encrypted sessions); hiding drops the focus.
    pub fn set_open(&mut self, open: bool) {
        self.open = open;
        if open {
            self.unread = 0;
            if self.secure() {
                self.focus = Some(Field::Chat);
            }
        } else {
            self.focus = None;
        }
    }

    /// Toggles the pane (see [`set_open`](Self::set_open)).
    pub fn toggle(&mut self) {
        self.set_open(!self.open);
    }

    /// Scrolls the chat by `lines` messages (positive: back to older ones);
    /// returns true when the view changed.
    pub fn scroll(&mut self, lines: i32) -> bool {
        let max = self.chat.len().saturating_sub(1);
        let before = self.scroll;
        let delta = lines.unsigned_abs() as usize;
        self.scroll = if lines >= 0 {
            self.scroll.saturating_add(delta).min(max)
        } else {
            self.scroll.saturating_sub(delta)
        };
        self.scroll != before
    }

    /// Leaves the focused field (keys go to the customer again).
    pub fn unfocus(&mut self) {
        self.focus = None;
    }

    fn transfer(&mut self, id: u32, to_customer: bool) -> Option<&mut Transfer> {
        self.transfers
            .iter_mut()
            .find(|t| t.id == id && t.to_customer == to_customer)
    }

    fn add_transfer(&mut self, t: Transfer) {
        self.transfers
            .retain(|o| !(o.id == t.id && o.to_customer == t.to_customer));
        self.transfers.push(t);
        while self.transfers.len() > MAX_TRANSFERS {
            let old = self
                .transfers
                .iter()
                .position(|t| matches!(t.state, TransferState::Finished(_)))
                .unwrap_or(0);
            self.transfers.remove(old);
        }
    }

    /// Takes what the session reports; returns true when the pane (or the
    /// status bar's unread badge) changed.
    pub fn apply(&mut self, update: PaneUpdate) -> bool {
        match update {
            PaneUpdate::Secure(s) => {
                self.secure = Some(s);
                if !s && matches!(self.focus, Some(Field::Chat | Field::SendPath)) {
                    self.focus = None;
                }
            }
            PaneUpdate::Offered { id, name, size } => self.add_transfer(Transfer {
                id,
                to_customer: true,
                name,
                size,
                done: 0,
                state: TransferState::Waiting,
                path: None,
            }),
            PaneUpdate::Event(e) => return self.event(e),
        }
        true
    }

    fn event(&mut self, e: Event) -> bool {
        match e {
            Event::Chat {
                from, time, text, ..
            } => {
                if from != "technician" && !self.open {
                    self.unread = self.unread.saturating_add(1);
                }
                self.chat.push_back(ChatLine { time, from, text });
                while self.chat.len() > MAX_CHAT_LINES {
                    self.chat.pop_front();
                }
                if self.scroll > 0 {
                    // Keep the view on the same messages.
                    self.scroll = (self.scroll + 1).min(self.chat.len().saturating_sub(1));
                }
            }
            Event::SystemInfo { info, .. } => self.info = info,
            Event::Sharing { state, .. } => self.sharing = Some(state),
            Event::FileOffered { id, name, size, .. } => {
                if !self.open {
                    self.unread = self.unread.saturating_add(1);
                }
                self.add_transfer(Transfer {
                    id,
                    to_customer: false,
                    name,
                    size,
                    done: 0,
                    state: TransferState::Offered,
                    path: None,
                });
            }
            Event::FileProgress {
                id,
                direction,
                done,
                size,
                ..
            } => {
                let to_customer = direction == "to_customer";
                match self.transfer(id, to_customer) {
                    Some(t) => {
                        t.done = done.min(size);
                        t.size = size;
                        if !matches!(t.state, TransferState::Finished(_))
                            && (done > 0 || t.state == TransferState::Offered)
                        {
                            t.state = TransferState::Running;
                        }
                    }
                    None => self.add_transfer(Transfer {
                        id,
                        to_customer,
                        name: format!("file {id}"),
                        size,
                        done: done.min(size),
                        state: if to_customer && done == 0 {
                            TransferState::Waiting
                        } else {
                            TransferState::Running
                        },
                        path: None,
                    }),
                }
            }
            Event::FileFinished {
                id,
                direction,
                name,
                size,
                outcome,
                path,
                ..
            } => {
                let to_customer = direction == "to_customer";
                let done = if outcome == "done" { size } else { 0 };
                match self.transfer(id, to_customer) {
                    Some(t) => {
                        t.name = name;
                        t.size = size;
                        if outcome == "done" {
                            t.done = size;
                        }
                        t.state = TransferState::Finished(outcome);
                        t.path = path;
                    }
                    None => self.add_transfer(Transfer {
                        id,
                        to_customer,
                        name,
                        size,
                        done,
                        state: TransferState::Finished(outcome),
                        path,
                    }),
                }
            }
            Event::Note { text, .. } => {
                self.notes.push_back(text);
                while self.notes.len() > MAX_NOTES {
                    self.notes.pop_front();
                }
            }
            Event::Error { message } => {
                // "session N: what" → "what".
                let m = match message.split_once(": ") {
                    Some((head, rest)) if head.starts_with("session ") => rest.to_string(),
                    _ => message,
                };
                self.notice = Some(m);
            }
            _ => return false,
        }
        true
    }

    /// A key for the focused field; `None` when nothing is to be sent.
    pub fn key(&mut self, key: PaneKey) -> Option<PaneAction> {
        let field = self.focus?;
        let secure = self.secure();
        let input = &mut self.inputs[field.index()];
        match key {
            PaneKey::Text(t) => {
                for c in t.chars() {
                    if c.is_control() || input.chars().count() >= MAX_INPUT {
                        continue;
                    }
                    input.push(c);
                }
                None
            }
            PaneKey::Backspace => {
                input.pop();
                None
            }
            PaneKey::Escape => {
                self.focus = None;
                None
            }
            PaneKey::Tab => {
                let order: &[Field] = if secure {
                    &[Field::Chat, Field::SendPath, Field::Note]
                } else {
                    &[Field::Note]
                };
                let i = order.iter().position(|f| *f == field).unwrap_or(0);
                self.focus = Some(order[(i + 1) % order.len()]);
                None
            }
            PaneKey::Enter => {
                let text = input.trim().to_string();
                if text.is_empty() {
                    return None;
                }
                if field != Field::Note && !secure {
                    self.notice = Some(CLEAR_NOTICE.into());
                    return None;
                }
                input.clear();
                self.notice = None;
                Some(match field {
                    Field::Chat => PaneAction::Chat(text),
                    Field::SendPath => PaneAction::SendFile(expand_home(&text)),
                    Field::Note => PaneAction::Note(text),
                })
            }
        }
    }

    /// A click on `hit`.
    pub fn click(&mut self, hit: Hit) -> Option<PaneAction> {
        let offered = |p: &Pane, id: u32| {
            p.transfers
                .iter()
                .any(|t| t.id == id && !t.to_customer && t.state == TransferState::Offered)
        };
        match hit {
            Hit::Field(f) => {
                self.focus = Some(f);
                None
            }
            Hit::Accept(id) if offered(self, id) => Some(PaneAction::AcceptFile(id)),
            Hit::Refuse(id) if offered(self, id) => Some(PaneAction::RefuseFile(id)),
            Hit::Cancel(id) => {
                let live = self.transfers.iter().any(|t| {
                    t.id == id && matches!(t.state, TransferState::Waiting | TransferState::Running)
                });
                live.then_some(PaneAction::CancelFile(id))
            }
            _ => None,
        }
    }

    /// Places the pane's content in a `width` × `height` area; `measure`
    /// gives the width of a text in pixels.
    /// In a short pane the chat keeps at least four lines: system
    /// information, older transfers and notes give way first.
    pub fn layout(
        &self,
        width: u32,
        height: u32,
        measure: &mut dyn FnMut(&str) -> i64,
    ) -> PaneLayout {
        let tries = [
            (SHOWN_INFO, SHOWN_TRANSFERS, true),
            (SHOWN_INFO, 2, true),
            (2, 2, false),
            (0, 1, false),
        ];
        let mut last = PaneLayout::default();
        for (info, transfers, notes) in tries {
            let (l, room) = self.layout_with(width, height, measure, info, transfers, notes);
            if room >= 4 * LINE {
                return l;
            }
            last = l;
        }
        last
    }

    fn layout_with(
        &self,
        width: u32,
        height: u32,
        measure: &mut dyn FnMut(&str) -> i64,
        shown_info: usize,
        shown_transfers: usize,
        show_notes: bool,
    ) -> (PaneLayout, i64) {
        let w = i64::from(width);
        let h = i64::from(height);
        let inner = (w - 2 * PAD).max(1);
        let right = w - PAD;
        let mut l = PaneLayout::default();
        l.items.push(Item::Fill(area(0, 0, w, h), PANE_BG));
        let text = |l: &mut PaneLayout, x: i64, y: i64, t: String, colour: u32| {
            l.items.push(Item::Text {
                x,
                y,
                right,
                text: t,
                colour,
            })
        };
        // Header.
        l.items.push(Item::Fill(area(0, 0, w, HEADER_H), FIELD_BG));
        text(
            &mut l,
            PAD,
            HEADER_H - 7,
            "Chat · Files · Info   Ctrl+Alt+Shift+T".into(),
            MUTED_FG,
        );
        let mut y = HEADER_H + 4;
        let line = |l: &mut PaneLayout, y: &mut i64, t: String, colour: u32| {
            *y += LINE;
            text(l, PAD, *y - 4, t, colour);
        };
        if !self.secure() {
            let msg = if self.secure == Some(false) {
                CLEAR_NOTICE
            } else {
                "Chat and files are not available in this window."
            };
            for t in wrap(msg, inner, measure) {
                line(&mut l, &mut y, t, WARN_FG);
            }
        }
        // The customer's computer.
        if !self.info.is_empty() && shown_info > 0 {
            y += 4;
            line(&mut l, &mut y, "Customer's computer".into(), MUTED_FG);
            for (k, v) in self.info.iter().take(shown_info) {
                // Long values (the OS name) take up to two lines.
                let full = format!("{}: {v}", k.replace('_', " "));
                for t in wrap(&full, inner, measure).into_iter().take(2) {
                    line(&mut l, &mut y, t, INFO_FG);
                }
            }
        }
        if let Some(s) = self.sharing.as_ref().filter(|s| s.as_str() != "all") {
            line(&mut l, &mut y, format!("Sharing: {s}"), WARN_FG);
        }
        // Files.
        if self.secure() {
            y += 4;
            line(&mut l, &mut y, "Files".into(), MUTED_FG);
            let skip = self.transfers.len().saturating_sub(shown_transfers);
            for t in self.transfers.iter().skip(skip) {
                let arrow = if t.to_customer {
                    "to customer"
                } else {
                    "from customer"
                };
                line(&mut l, &mut y, t.name.clone(), PANE_FG);
                line(
                    &mut l,
                    &mut y,
                    format!("{arrow}, {}", human_size(t.size)),
                    MUTED_FG,
                );
                match &t.state {
                    TransferState::Offered => {
                        y += 2;
                        let bw = (inner - PAD) / 2;
                        let a = area(PAD, y, bw, BUTTON_H);
                        let r = area(PAD + bw + PAD, y, bw, BUTTON_H);
                        button(&mut l, a, "Accept", ACCEPT_BG, measure);
                        button(&mut l, r, "Refuse", REFUSE_BG, measure);
                        l.hits.push((a, Hit::Accept(t.id)));
                        l.hits.push((r, Hit::Refuse(t.id)));
                        y += BUTTON_H + 2;
                    }
                    TransferState::Waiting | TransferState::Running => {
                        y += 4;
                        let cw = 64;
                        let bar_w = inner - cw - PAD;
                        progress(&mut l, area(PAD, y + 6, bar_w, BAR_H), t, BAR_FG);
                        let c = area(PAD + bar_w + PAD, y, cw, BUTTON_H);
                        button(&mut l, c, "Cancel", REFUSE_BG, measure);
                        l.hits.push((c, Hit::Cancel(t.id)));
                        y += BUTTON_H;
                        let state = if t.state == TransferState::Waiting {
                            "waiting for the customer".to_string()
                        } else {
                            format!("{} of {}", human_size(t.done), human_size(t.size))
                        };
                        line(&mut l, &mut y, state, MUTED_FG);
                    }
                    TransferState::Finished(outcome) => {
                        y += 4;
                        let colour = if outcome == "done" {
                            DONE_FG
                        } else {
                            REFUSE_BG
                        };
                        progress(&mut l, area(PAD, y, inner, BAR_H), t, colour);
                        y += BAR_H;
                        let mut s = outcome.clone();
                        if let Some(p) = &t.path {
                            s = format!("{s}: {p}");
                        }
                        line(
                            &mut l,
                            &mut y,
                            s,
                            if outcome == "done" { PANE_FG } else { WARN_FG },
                        );
                    }
                }
            }
            y += 2;
            line(
                &mut l,
                &mut y,
                "Send a file: path + Enter, or drop it".into(),
                MUTED_FG,
            );
            y += 2;
            field(
                self,
                &mut l,
                Field::SendPath,
                y,
                w,
                "/path/to/file",
                measure,
            );
            y += FIELD_H;
        }
        // Notes.
        if !self.notes.is_empty() && show_notes {
            y += 4;
            line(&mut l, &mut y, "Notes".into(), MUTED_FG);
            for n in &self.notes {
                for t in wrap(n, inner, measure) {
                    line(&mut l, &mut y, t, PANE_FG);
                }
            }
        }
        y += 4;
        field(
            self,
            &mut l,
            Field::Note,
            y,
            w,
            "session note (ticket…), Enter",
            measure,
        );
        y += FIELD_H + 4;
        // Chat: from the bottom up, above the chat field.
        let bottom = h - PAD - FIELD_H;
        let mut room = i64::MAX;
        let mut chat_bottom = bottom - 4;
        if let Some(n) = &self.notice {
            let lines = wrap(n, inner, measure);
            for t in lines.iter().rev() {
                text(&mut l, PAD, chat_bottom - 4, t.clone(), WARN_FG);
                chat_bottom -= LINE;
            }
        }
        if self.secure() {
            field(
                self,
                &mut l,
                Field::Chat,
                bottom,
                w,
                "chat message, Enter sends",
                measure,
            );
            line_title(&mut l, y, "Chat", w);
            let top = y + LINE;
            room = chat_bottom - top;
            let mut yy = chat_bottom;
            let mut newest = true;
            if self.scroll > 0 {
                text(
                    &mut l,
                    PAD,
                    chat_bottom - 4,
                    format!("({} newer below: scroll down)", self.scroll),
                    MUTED_FG,
                );
                chat_bottom -= LINE;
                yy = chat_bottom;
            }
            'outer: for c in self.chat.iter().rev().skip(self.scroll) {
                let who = if c.from == "technician" {
                    "you"
                } else {
                    c.from.as_str()
                };
                let head = format!("{} {who}: ", c.time);
                let head_w = measure(&head);
                let mut lines = wrap(&c.text, (inner - head_w).max(inner / 2), measure);
                if lines.is_empty() {
                    lines.push(String::new());
                }
                let colour = if c.from == "technician" {
                    TECHNICIAN_FG
                } else {
                    CUSTOMER_FG
                };
                // Whole messages only, except the newest (its end at least).
                let n = lines.len() as i64;
                if yy - 4 - (n - 1) * LINE - LINE + 4 < top && !newest {
                    break;
                }
                newest = false;
                for (i, t) in lines.into_iter().enumerate().rev() {
                    let base = yy - 4;
                    if base - LINE + 4 < top {
                        break 'outer;
                    }
                    if i == 0 {
                        text(&mut l, PAD, base, head.clone(), colour);
                    }
                    text(&mut l, PAD + head_w, base, t, PANE_FG);
                    yy -= LINE;
                }
            }
        }
        (l, room)
    }
}

const CLEAR_NOTICE: &str =
    "Clear (unencrypted) session: chat and file transfer need an encrypted (Crypto) technician.";

fn line_title(l: &mut PaneLayout, y: i64, title: &str, w: i64) {
    l.items
        .push(Item::Fill(area(PAD, y + 2, w - 2 * PAD, 1), BAR_BG));
    l.items.push(Item::Text {
        x: PAD,
        y: y + LINE - 2,
        right: w - PAD,
        text: title.into(),
        colour: MUTED_FG,
    });
}

fn button(l: &mut PaneLayout, a: Area, label: &str, bg: u32, measure: &mut dyn FnMut(&str) -> i64) {
    l.items.push(Item::Fill(a, bg));
    let tw = measure(label);
    l.items.push(Item::Text {
        x: i64::from(a.x) + (i64::from(a.w) - tw).max(0) / 2,
        y: i64::from(a.y) + i64::from(a.h) / 2 + 5,
        right: i64::from(a.x + a.w),
        text: label.into(),
        colour: WHITE,
    });
}

fn progress(l: &mut PaneLayout, a: Area, t: &Transfer, colour: u32) {
    l.items.push(Item::Fill(a, BAR_BG));
    let frac = if t.size == 0 {
        if t.done == 0 && !matches!(t.state, TransferState::Finished(_)) {
            0.0
        } else {
            1.0
        }
    } else {
        t.done as f64 / t.size as f64
    };
    let fw = (f64::from(a.w) * frac.clamp(0.0, 1.0)).round() as u32;
    if fw > 0 {
        l.items.push(Item::Fill(Area { w: fw, ..a }, colour));
    }
}

#[allow(clippy::too_many_arguments)]
fn field(
    p: &Pane,
    l: &mut PaneLayout,
    f: Field,
    y: i64,
    w: i64,
    placeholder: &str,
    measure: &mut dyn FnMut(&str) -> i64,
) {
    let a = area(PAD, y, w - 2 * PAD, FIELD_H);
    let focused = p.focus == Some(f);
    if focused {
        l.items.push(Item::Fill(a, FOCUS_FG));
        l.items.push(Item::Fill(
            Area {
                x: a.x + 2,
                y: a.y + 2,
                w: a.w.saturating_sub(4),
                h: a.h.saturating_sub(4),
            },
            FIELD_BG,
        ));
    } else {
        l.items.push(Item::Fill(a, FIELD_BG));
    }
    let room = i64::from(a.w) - 12;
    let input = p.input(f);
    let (t, colour) = if input.is_empty() && !focused {
        (placeholder.to_string(), MUTED_FG)
    } else {
        let shown = if focused {
            format!("{input}_")
        } else {
            input.to_string()
        };
        (tail_fitting(&shown, room, measure), PANE_FG)
    };
    l.items.push(Item::Text {
        x: i64::from(a.x) + 5,
        y: i64::from(a.y) + 16,
        right: i64::from(a.x + a.w) - 3,
        text: t,
        colour,
    });
    l.hits.push((a, Hit::Field(f)));
}

fn expand_home(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(path)
}

/// Paints `layout` into the window buffer (`stride` × `rows`) with the pane's
/// left edge at column `x0`, clipped to the `width` × `height` pane area.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    buf: &mut [u32],
    stride: usize,
    rows: usize,
    x0: usize,
    width: usize,
    height: usize,
    text: &mut TextDrawer,
    layout: &PaneLayout,
) {
    let height = height.min(rows);
    let right_edge = (x0 + width).min(stride);
    for item in &layout.items {
        match item {
            Item::Fill(a, colour) => {
                let xs = (x0 + a.x as usize).min(right_edge);
                let xe = (x0 + a.x as usize + a.w as usize).min(right_edge);
                let ys = (a.y as usize).min(height);
                let ye = (a.y as usize + a.h as usize).min(height);
                for y in ys..ye {
                    if let Some(row) = buf.get_mut(y * stride + xs..y * stride + xe) {
                        row.fill(*colour);
                    }
                }
            }
            Item::Text {
                x,
                y,
                right,
                text: t,
                colour,
            } => {
                let clip = (x0 as i64 + (*right).max(0)).min(right_edge as i64) as usize;
                text.draw(buf, stride, height, clip, x0 as i64 + x, *y, t, *colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mono(s: &str) -> i64 {
        8 * s.chars().count() as i64
    }

    fn layout(p: &Pane) -> PaneLayout {
        p.layout(PANE_WIDTH, 600, &mut mono)
    }

    fn chat(from: &str, text: &str) -> PaneUpdate {
        PaneUpdate::Event(Event::Chat {
            session: 1,
            from: from.into(),
            time: "10:00:00".into(),
            text: text.into(),
        })
    }

    fn secure_pane() -> Pane {
        let mut p = Pane::new();
        p.apply(PaneUpdate::Secure(true));
        p
    }

    #[test]
    fn unread_counts_while_hidden_and_clears_on_open() {
        let mut p = secure_pane();
        assert!(p.apply(chat("customer", "hello")));
        assert!(p.apply(chat("technician", "hi")));
        p.apply(PaneUpdate::Event(Event::FileOffered {
            session: 1,
            id: 7,
            name: "a.txt".into(),
            size: 3,
        }));
        assert_eq!(p.unread(), 2, "own lines are not unread");
        p.toggle();
        assert!(p.is_open());
        assert_eq!(p.unread(), 0);
        assert_eq!(p.focus(), Some(Field::Chat));
        p.apply(chat("customer", "again"));
        assert_eq!(p.unread(), 0, "seen while open");
        p.toggle();
        assert_eq!(p.focus(), None, "hidden: keys go to the customer");
        // Unrelated events change nothing.
        assert!(!p.apply(PaneUpdate::Event(Event::Update { session: 1 })));
    }

    #[test]
    fn typing_in_the_chat_field_sends_on_enter() {
        let mut p = secure_pane();
        p.set_open(true);
        assert_eq!(p.key(PaneKey::Text("Ciao\u{7}!".into())), None);
        assert_eq!(p.input(Field::Chat), "Ciao!", "control characters dropped");
        p.key(PaneKey::Backspace);
        p.key(PaneKey::Text(" a tutti".into()));
        assert_eq!(
            p.key(PaneKey::Enter),
            Some(PaneAction::Chat("Ciao a tutti".into()))
        );
        assert_eq!(p.input(Field::Chat), "");
        assert_eq!(p.key(PaneKey::Enter), None, "an empty line is not sent");
        p.key(PaneKey::Escape);
        assert_eq!(p.focus(), None);
        assert_eq!(p.key(PaneKey::Text("x".into())), None);
        assert_eq!(p.input(Field::Chat), "", "no focus: nothing typed");
    }

    #[test]
    fn tab_goes_to_the_path_field_and_enter_sends_the_file() {
        let mut p = secure_pane();
        p.set_open(true);
        p.key(PaneKey::Tab);
        assert_eq!(p.focus(), Some(Field::SendPath));
        p.key(PaneKey::Text("  /tmp/report.pdf ".into()));
        assert_eq!(
            p.key(PaneKey::Enter),
            Some(PaneAction::SendFile("/tmp/report.pdf".into()))
        );
        p.key(PaneKey::Tab);
        assert_eq!(p.focus(), Some(Field::Note));
        p.key(PaneKey::Text("ticket 42".into()));
        assert_eq!(
            p.key(PaneKey::Enter),
            Some(PaneAction::Note("ticket 42".into()))
        );
        p.key(PaneKey::Tab);
        assert_eq!(p.focus(), Some(Field::Chat));
    }

    #[test]
    fn a_long_input_shows_its_end() {
        let t = tail_fitting(&"ab".repeat(500), 80, &mut mono);
        assert_eq!(t, "…babababab");
        assert!(mono(&t) <= 80);
        assert_eq!(tail_fitting("short", 80, &mut mono), "short");
    }

    #[test]
    fn input_is_bounded() {
        let mut p = secure_pane();
        p.set_open(true);
        p.key(PaneKey::Text("x".repeat(MAX_INPUT * 3)));
        assert_eq!(p.input(Field::Chat).chars().count(), MAX_INPUT);
        for i in 0..(MAX_CHAT_LINES + 50) {
            p.apply(chat("customer", &i.to_string()));
        }
        assert_eq!(p.chat().count(), MAX_CHAT_LINES);
        assert_eq!(p.chat().next().map(|c| c.text.as_str()), Some("50"));
        for id in 0..(MAX_TRANSFERS as u32 + 10) {
            p.apply(PaneUpdate::Offered {
                id,
                name: "f".into(),
                size: 1,
            });
        }
        assert_eq!(p.transfers().len(), MAX_TRANSFERS);
    }

    #[test]
    fn offers_get_accept_and_refuse_buttons() {
        let mut p = secure_pane();
        p.set_open(true);
        p.apply(PaneUpdate::Event(Event::FileOffered {
            session: 1,
            id: 0x8000_0001,
            name: "log.zip".into(),
            size: 5000,
        }));
        let l = layout(&p);
        assert!(l.has_text("log.zip"));
        let (a, _) = *l
            .hits
            .iter()
            .find(|(_, h)| *h == Hit::Accept(0x8000_0001))
            .expect("accept button");
        let hit = l.hit(f64::from(a.x + 1), f64::from(a.y + 1));
        assert_eq!(hit, Some(Hit::Accept(0x8000_0001)));
        assert_eq!(
            p.click(Hit::Refuse(0x8000_0001)),
            Some(PaneAction::RefuseFile(0x8000_0001))
        );
        assert_eq!(
            p.click(Hit::Accept(0x8000_0001)),
            Some(PaneAction::AcceptFile(0x8000_0001))
        );
        assert_eq!(p.click(Hit::Accept(5)), None, "no such offer");
        // Accepted: progress, then done with the saved path.
        p.apply(PaneUpdate::Event(Event::FileProgress {
            session: 1,
            id: 0x8000_0001,
            direction: "from_customer",
            done: 0,
            size: 5000,
        }));
        assert_eq!(p.transfers()[0].state, TransferState::Running);
        assert_eq!(
            p.click(Hit::Cancel(0x8000_0001)),
            Some(PaneAction::CancelFile(0x8000_0001))
        );
        p.apply(PaneUpdate::Event(Event::FileFinished {
            session: 1,
            id: 0x8000_0001,
            direction: "from_customer",
            name: "log.zip".into(),
            size: 5000,
            outcome: "done".into(),
            path: Some("/logs/files/log.zip".into()),
            hash: None,
        }));
        let t = &p.transfers()[0];
        assert_eq!(
            (t.done, &t.state),
            (5000, &TransferState::Finished("done".into()))
        );
        assert_eq!(p.click(Hit::Cancel(0x8000_0001)), None, "finished");
        let l = layout(&p);
        assert!(l.has_text("done: /logs/files/log.zip"));
        assert!(
            l.items
                .iter()
                .any(|i| matches!(i, Item::Fill(_, c) if *c == DONE_FG))
        );
    }

    #[test]
    fn own_offers_wait_then_progress() {
        let mut p = secure_pane();
        p.apply(PaneUpdate::Offered {
            id: 1,
            name: "report.bin".into(),
            size: 1000,
        });
        p.apply(PaneUpdate::Event(Event::FileProgress {
            session: 1,
            id: 1,
            direction: "to_customer",
            done: 0,
            size: 1000,
        }));
        assert_eq!(p.transfers()[0].state, TransferState::Waiting);
        assert_eq!(p.transfers()[0].name, "report.bin");
        p.apply(PaneUpdate::Event(Event::FileProgress {
            session: 1,
            id: 1,
            direction: "to_customer",
            done: 500,
            size: 1000,
        }));
        assert_eq!(p.transfers()[0].state, TransferState::Running);
        let l = layout(&p);
        assert!(l.has_text("500 B of 1.0 kB"));
        let bar = l
            .items
            .iter()
            .find_map(|i| match i {
                Item::Fill(a, c) if *c == BAR_FG => Some(*a),
                _ => None,
            })
            .expect("progress fill");
        let full = l
            .items
            .iter()
            .find_map(|i| match i {
                Item::Fill(a, c) if *c == BAR_BG && a.y == bar.y => Some(*a),
                _ => None,
            })
            .expect("progress background");
        assert_eq!(bar.w, full.w / 2);
        assert!(l.hits.iter().any(|(_, h)| *h == Hit::Cancel(1)));
    }

    #[test]
    fn clear_mode_says_why_and_offers_notes_only() {
        let mut p = Pane::new();
        p.apply(PaneUpdate::Secure(false));
        p.set_open(true);
        assert_eq!(p.focus(), None);
        let l = layout(&p);
        assert!(l.has_text("(Crypto) technician"), "{l:?}");
        assert!(!l.hits.iter().any(|(_, h)| *h == Hit::Field(Field::Chat)));
        assert!(l.hits.iter().any(|(_, h)| *h == Hit::Field(Field::Note)));
        p.click(Hit::Field(Field::Note));
        p.key(PaneKey::Text("clear session".into()));
        assert_eq!(
            p.key(PaneKey::Enter),
            Some(PaneAction::Note("clear session".into()))
        );
    }

    #[test]
    fn chat_lines_system_info_and_errors_are_shown() {
        let mut p = secure_pane();
        let mut info = BTreeMap::new();
        info.insert("computer_name".to_string(), "pc-rossi".to_string());
        p.apply(PaneUpdate::Event(Event::SystemInfo { session: 1, info }));
        p.apply(chat("customer", "la stampante non va"));
        p.apply(chat("technician", "ci guardo"));
        p.apply(PaneUpdate::Event(Event::Error {
            message: "session 1: cannot send the file: no such file".into(),
        }));
        let l = layout(&p);
        assert!(l.has_text("computer name: pc-rossi"));
        assert!(l.has_text("10:00:00 customer: "));
        assert!(l.has_text("la stampante non va"));
        assert!(l.has_text("10:00:00 you: "));
        assert_eq!(p.notice(), Some("cannot send the file: no such file"));
        assert!(l.has_text("cannot send the file"));
        // Every item lies inside the pane.
        for i in &l.items {
            if let Item::Fill(a, _) = i {
                assert!(a.x + a.w <= PANE_WIDTH && a.y + a.h <= 600, "{a:?}");
            }
        }
    }

    #[test]
    fn long_chat_lines_wrap_and_the_oldest_scroll_away() {
        let mut p = secure_pane();
        let long = "parola ".repeat(8);
        for _ in 0..30 {
            p.apply(chat("customer", &long));
        }
        let l = p.layout(PANE_WIDTH, 300, &mut mono);
        for i in &l.items {
            if let Item::Text { y, x, text, .. } = i {
                assert!(*y <= 300, "text below the pane at {y}");
                assert!(x + mono(text) <= i64::from(PANE_WIDTH), "{text:?} too wide");
            }
        }
        // Whole messages only: every head comes with all its lines.
        let heads = l
            .items
            .iter()
            .filter(|i| matches!(i, Item::Text { text, .. } if text.ends_with("customer: ")))
            .count();
        let per = wrap(
            &long,
            i64::from(PANE_WIDTH) - 16 - mono("10:00:00 customer: "),
            &mut mono,
        )
        .len();
        let bodies = l
            .items
            .iter()
            .filter(|i| matches!(i, Item::Text { text, .. } if text.starts_with("parola")))
            .count();
        assert!(heads >= 1);
        assert_eq!(bodies, heads * per);
        let lines = wrap(&long, 100, &mut mono);
        assert!(lines.len() > 3 && lines.iter().all(|l| mono(l) <= 100));
        assert_eq!(wrap("", 100, &mut mono), vec![String::new()]);
        assert_eq!(wrap(&"x".repeat(30), 80, &mut mono).len(), 3);
    }

    #[test]
    fn the_wheel_scrolls_the_chat_back() {
        let mut p = secure_pane();
        for i in 0..40 {
            p.apply(chat("customer", &format!("message {i}")));
        }
        assert!(layout(&p).has_text("message 39"));
        assert!(!p.scroll(-1), "already at the newest");
        assert!(p.scroll(30));
        let l = layout(&p);
        assert!(!l.has_text("message 39"));
        assert!(l.has_text("message 9"));
        assert!(l.has_text("30 newer below"));
        p.apply(chat("customer", "message 40"));
        assert!(layout(&p).has_text("message 9"), "the view stays");
        assert!(p.scroll(1000));
        assert!(layout(&p).has_text("message 0"));
        assert!(p.scroll(-1000));
        assert!(layout(&p).has_text("message 40"));
    }

    #[test]
    fn drawing_stays_in_the_pane() {
        let mut p = secure_pane();
        p.set_open(true);
        p.apply(chat("customer", "hello"));
        let (stride, rows) = (400usize, 200usize);
        let mut buf = vec![1u32; stride * rows];
        let mut t = TextDrawer::new(13.0);
        let l = p.layout(PANE_WIDTH, rows as u32, &mut |s| t.width(s));
        draw(
            &mut buf,
            stride,
            rows,
            80,
            PANE_WIDTH as usize,
            rows,
            &mut t,
            &l,
        );
        for y in 0..rows {
            assert!(buf[y * stride..y * stride + 80].iter().all(|&p| p == 1));
        }
        assert_eq!(buf[(rows - 1) * stride + 81], PANE_BG);
        assert!(buf.contains(&CUSTOMER_FG));
    }
}
