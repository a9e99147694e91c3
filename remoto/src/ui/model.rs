//! Pure UI state: what each window shows and how it reacts to input.
//!
//! Nothing here touches a display or a clock: time comes in as
//! milliseconds from any monotonic origin, clicks come in already resolved to
//! a [`Target`] (the renderer reports where each target is drawn).

use std::path::PathBuf;

use super::chooser::{ChooserMode, ChooserModel, ChooserOutcome, Listing, Places};
use super::strings::Strings;
use super::{ChatLine, EndReason, PickerData, SessionUpdate, SummaryInfo, UiAction};

/// Chat lines the panel keeps (older ones scroll away).
pub const MAX_CHAT_LINES: usize = 50;
/// Longest chat line typed in the panel, in characters.
pub const MAX_CHAT_INPUT: usize = 500;

/// Two presses on the same row within this many milliseconds are a double-click.
pub const DOUBLE_CLICK_MS: u64 = 500;
/// Fewest digits accepted as a one-time session code.
pub const MIN_CODE_DIGITS: usize = 4;
/// Most digits the code field takes.
pub const MAX_CODE_DIGITS: usize = 12;
/// Rows the picker list shows at once (more scroll).
pub const MAX_VISIBLE_ROWS: usize = 6;

/// A keyboard key the UI reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Enter / Return.
    Enter,
    /// Escape.
    Escape,
    /// Backspace.
    Backspace,
    /// Typed text (one character).
    Char(char),
}

/// Something that can be clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A technician row (index into the technician list).
    Row(usize),
    /// A button.
    Button(ButtonId),
    /// The session-code field.
    CodeField,
    /// A row of the file chooser (index into its visible rows).
    Entry(usize),
    /// A shortcut place of the file chooser (index into its shortcuts).
    Place(usize),
}

/// The buttons of all windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonId {
    /// Picker: connect to the selected technician.
    Connect,
    /// Code prompt: connect with the typed code.
    CodeOk,
    /// Code prompt: back to the list.
    CodeCancel,
    /// Panel: allow or stop control.
    ToggleControl,
    /// Panel: close the session.
    Close,
    /// Receipt: save the log.
    SaveLog,
    /// Receipt: end the program.
    Exit,
    /// Panel: send the typed chat line.
    SendChat,
    /// Panel: pause or resume sharing.
    TogglePause,
    /// Panel: accept the offered file.
    AcceptFile,
    /// Panel: refuse the offered file.
    RefuseFile,
    /// Panel: choose a file to send to the technician.
    SendFile,
    /// Chooser: pick the selection (or the folder shown).
    ChooserChoose,
    /// Chooser: cancel.
    ChooserCancel,
    /// Chooser: the parent folder.
    ChooserParent,
    /// Chooser: replace the existing file.
    ReplaceYes,
    /// Chooser: do not replace (back to the chooser).
    ReplaceNo,
}

/// One input event, already independent of the window system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiInput {
    /// A key was pressed.
    Key(Key),
    /// The pointer is over this target (or none).
    Hover(Option<Target>),
    /// The primary button was pressed over this target (or none) at `time_ms`.
    Press {
        /// What is under the pointer.
        target: Option<Target>,
        /// Monotonic time of the press, in milliseconds.
        time_ms: u64,
    },
    /// Mouse wheel: positive scrolls the list down by that many rows.
    Scroll(i32),
    /// Time passes (the window layer sends one at least every second).
    Tick {
        /// Monotonic time, in milliseconds.
        time_ms: u64,
    },
    /// The window's close button (or Alt+F4) was used.
    CloseRequested,
}

/// What the picker's status area shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickerStatus {
    /// The list, waiting for a choice.
    Idle,
    /// Connecting to `technician` (index), trying `endpoint` if known.
    Connecting {
        /// Index of the technician.
        technician: usize,
        /// What the session reported trying.
        endpoint: Option<String>,
    },
    /// The last attempt failed; the message is ready to show.
    Failed {
        /// Localized message.
        message: String,
    },
}

/// The one-time session code being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePrompt {
    /// Index of the technician that needs it.
    pub technician: usize,
    /// Digits typed so far.
    pub digits: String,
    /// Shown when Enter was pressed with too few digits.
    pub too_short: bool,
}

/// The picker window: the technician list and its status.
#[derive(Debug, Clone)]
pub struct PickerModel {
    /// What the profile says to show.
    pub data: PickerData,
    /// Selected row (meaningless when the list is empty).
    pub selected: usize,
    /// First visible row.
    pub scroll_top: usize,
    /// Status area.
    pub status: PickerStatus,
    /// The session-code prompt, when open.
    pub prompt: Option<CodePrompt>,
    /// The target under the pointer.
    pub hover: Option<Target>,
    last_press: Option<(usize, u64)>,
}

impl PickerModel {
    /// A picker showing `data`, first row selected.
    pub fn new(data: PickerData) -> Self {
        Self {
            data,
            selected: 0,
            scroll_top: 0,
            status: PickerStatus::Idle,
            prompt: None,
            hover: None,
            last_press: None,
        }
    }

    /// The texts in the profile's language.
    pub fn strings(&self) -> &'static Strings {
        Strings::get(self.data.language)
    }

    /// How many rows the list shows at once.
    pub fn visible_rows(&self) -> usize {
        self.data.technicians.len().clamp(1, MAX_VISIBLE_ROWS)
    }

    /// `true` while an attempt is under way (the list is then locked).
    pub fn is_connecting(&self) -> bool {
        matches!(self.status, PickerStatus::Connecting { .. })
    }

    fn len(&self) -> usize {
        self.data.technicians.len()
    }

    fn select(&mut self, row: usize) {
        if self.len() == 0 {
            return;
        }
        self.selected = row.min(self.len() - 1);
        let vis = self.visible_rows();
        if self.selected < self.scroll_top {
            self.scroll_top = self.selected;
        } else if self.selected >= self.scroll_top + vis {
            self.scroll_top = self.selected + 1 - vis;
        }
    }

    fn scroll(&mut self, rows: i32) {
        let max_top = self.len().saturating_sub(self.visible_rows());
        let top = i64::try_from(self.scroll_top).unwrap_or(0) + i64::from(rows);
        self.scroll_top = usize::try_from(top.max(0)).unwrap_or(0).min(max_top);
    }

    /// Start connecting to `row`, or open the code prompt if it needs one.
    fn activate(&mut self, row: usize) -> Option<UiAction> {
        let needs_code = self.data.technicians.get(row)?.needs_code;
        self.select(row);
        if needs_code {
            self.prompt = Some(CodePrompt {
                technician: row,
                digits: String::new(),
                too_short: false,
            });
            return None;
        }
        self.status = PickerStatus::Connecting {
            technician: row,
            endpoint: None,
        };
        Some(UiAction::Connect {
            technician_index: row,
            session_code: None,
        })
    }

    fn submit_code(&mut self) -> Option<UiAction> {
        let prompt = self.prompt.as_mut()?;
        if prompt.digits.len() < MIN_CODE_DIGITS {
            prompt.too_short = true;
            return None;
        }
        let technician = prompt.technician;
        let code = std::mem::take(&mut prompt.digits);
        self.prompt = None;
        self.status = PickerStatus::Connecting {
            technician,
            endpoint: None,
        };
        Some(UiAction::Connect {
            technician_index: technician,
            session_code: Some(code),
        })
    }

    fn handle_prompt(&mut self, input: UiInput) -> Option<UiAction> {
        let prompt = self.prompt.as_mut()?;
        match input {
            UiInput::Key(Key::Char(c)) if c.is_ascii_digit() => {
                if prompt.digits.len() < MAX_CODE_DIGITS {
                    prompt.digits.push(c);
                    prompt.too_short = false;
                }
                None
            }
            UiInput::Key(Key::Backspace) => {
                prompt.digits.pop();
                None
            }
            UiInput::Key(Key::Enter)
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::CodeOk)),
                ..
            } => self.submit_code(),
            UiInput::Key(Key::Escape)
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::CodeCancel)),
                ..
            } => {
                self.prompt = None;
                None
            }
            _ => None,
        }
    }

    /// Reacts to one input; `Some` is to be sent to the session.
    pub fn handle(&mut self, input: UiInput) -> Option<UiAction> {
        match input {
            UiInput::Hover(t) => {
                self.hover = t;
                return None;
            }
            UiInput::Tick { .. } => return None,
            UiInput::CloseRequested => return Some(UiAction::Close),
            UiInput::Scroll(rows) => {
                self.scroll(rows);
                return None;
            }
            _ => {}
        }
        if self.prompt.is_some() {
            return self.handle_prompt(input);
        }
        if self.is_connecting() {
            return match input {
                UiInput::Key(Key::Escape) => Some(UiAction::Close),
                _ => None,
            };
        }
        let page = self.visible_rows().saturating_sub(1).max(1);
        match input {
            UiInput::Key(Key::Up) => self.select(self.selected.saturating_sub(1)),
            UiInput::Key(Key::Down) => self.select(self.selected.saturating_add(1)),
            UiInput::Key(Key::PageUp) => self.select(self.selected.saturating_sub(page)),
            UiInput::Key(Key::PageDown) => self.select(self.selected.saturating_add(page)),
            UiInput::Key(Key::Home) => self.select(0),
            UiInput::Key(Key::End) => self.select(usize::MAX),
            UiInput::Key(Key::Enter)
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::Connect)),
                ..
            } => return self.activate(self.selected),
            UiInput::Key(Key::Escape) => return Some(UiAction::Close),
            UiInput::Press {
                target: Some(Target::Row(row)),
                time_ms,
            } => {
                if row >= self.len() {
                    return None;
                }
                let double = matches!(self.last_press, Some((r, t))
                    if r == row && time_ms.saturating_sub(t) <= DOUBLE_CLICK_MS);
                self.select(row);
                if double {
                    self.last_press = None;
                    return self.activate(row);
                }
                self.last_press = Some((row, time_ms));
            }
            UiInput::Press { .. } => self.last_press = None,
            _ => {}
        }
        None
    }

    fn technician_id(&self, index: usize) -> &str {
        self.data
            .technicians
            .get(index)
            .map_or("?", |t| t.id.as_str())
    }

    fn attempted(&self) -> usize {
        match self.status {
            PickerStatus::Connecting { technician, .. } => technician,
            _ => self.selected,
        }
    }

    /// Applies a session update that concerns the picker (not `Connected`).
    pub fn update(&mut self, update: &SessionUpdate) {
        let s = self.strings();
        let phone = self.data.phones.first().map(String::as_str);
        let tech = self.technician_id(self.attempted()).to_string();
        match update {
            SessionUpdate::Connecting { endpoint } => {
                let technician = self.attempted();
                self.status = PickerStatus::Connecting {
                    technician,
                    endpoint: Some(endpoint.clone()),
                };
            }
            SessionUpdate::Failed { detail } => {
                self.status = PickerStatus::Failed {
                    message: s.unreachable(&tech, detail, phone),
                };
            }
            SessionUpdate::Refused { reason } => {
                self.status = PickerStatus::Failed {
                    message: s.refused(&tech, reason.as_deref(), phone),
                };
            }
            SessionUpdate::Ended { reason } => {
                let detail = match reason {
                    EndReason::CustomerClosed => s.ended_by_customer.to_string(),
                    EndReason::TechnicianClosed => s.ended_by_technician.to_string(),
                    EndReason::ConnectionLost { detail } => s.connection_lost(detail),
                };
                self.status = PickerStatus::Failed {
                    message: s.ended_early(&tech, &detail),
                };
            }
            _ => {}
        }
    }
}

/// The always-on-top session panel.
#[derive(Debug, Clone)]
pub struct PanelModel {
    /// Texts in the profile's language.
    pub strings: &'static Strings,
    /// The technician ID.
    pub technician: String,
    /// Short authentication code (Crypto only).
    pub sas: Option<String>,
    /// Crypto (`true`) or Chiaro.
    pub encrypted: bool,
    /// The technician may use mouse and keyboard.
    pub control: bool,
    /// Close was pressed; waiting for [`SessionUpdate::Ended`].
    pub closing: bool,
    /// When the session started (ms).
    pub started_ms: u64,
    /// Now (ms), from the last tick.
    pub now_ms: u64,
    /// The target under the pointer.
    pub hover: Option<Target>,
    /// Chat lines, oldest first (at most [`MAX_CHAT_LINES`]).
    pub chat: Vec<ChatLine>,
    /// Technician lines not yet seen (reset when the customer types or clicks).
    pub unread: usize,
    /// The chat line being typed.
    pub chat_input: String,
    /// Sharing is paused.
    pub paused: bool,
    /// A file offer waiting for Accept/Refuse: (id, name, size).
    pub offer: Option<(u32, String, u64)>,
    /// The latest transfer status line.
    pub file_status: Option<String>,
    /// The summary sent before `Ended`.
    pub summary: Option<SummaryInfo>,
    /// The file chooser, when open (it takes over the panel's window).
    pub chooser: Option<(ChooserPurpose, ChooserModel)>,
    /// The customer's usual folders (chooser shortcuts and start folders).
    pub places: Places,
}

/// Why the panel's file chooser is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChooserPurpose {
    /// Pick a file to send to the technician.
    SendFile,
    /// Pick the folder for the technician's file `id` named `name`.
    AcceptFile {
        /// Transfer id.
        id: u32,
        /// The offered name.
        name: String,
    },
}

fn home_or_root(places: &Places) -> PathBuf {
    places.home.clone().unwrap_or_else(|| PathBuf::from("/"))
}

impl PanelModel {
    /// A panel for a session that starts at `now_ms`.
    pub fn new(
        strings: &'static Strings,
        technician: String,
        sas: Option<String>,
        encrypted: bool,
        control: bool,
        now_ms: u64,
    ) -> Self {
        PanelModel {
            strings,
            technician,
            sas,
            encrypted,
            control,
            closing: false,
            started_ms: now_ms,
            now_ms,
            hover: None,
            chat: Vec::new(),
            unread: 0,
            chat_input: String::new(),
            paused: false,
            offer: None,
            file_status: None,
            summary: None,
            chooser: None,
            places: Places::default(),
        }
    }

    fn open_chooser(&mut self, purpose: ChooserPurpose) {
        let s = self.strings;
        let places = &self.places;
        let c = match &purpose {
            ChooserPurpose::SendFile => ChooserModel::new(
                ChooserMode::OpenFile,
                s.chooser_send_title().into(),
                s.chooser_send().into(),
                home_or_root(places),
                places,
            ),
            ChooserPurpose::AcceptFile { name, .. } => {
                let start = places
                    .downloads
                    .clone()
                    .unwrap_or_else(|| home_or_root(places));
                let mut c = ChooserModel::new(
                    ChooserMode::ChooseFolder,
                    s.chooser_save_title(name),
                    s.chooser_save_here().into(),
                    start,
                    places,
                );
                c.save_name = Some(name.clone());
                c
            }
        };
        self.chooser = Some((purpose, c));
    }

    /// Applies the chooser's outcome: it closes, and what was chosen goes
    /// to the session. Cancel on an offered file leaves the offer pending
    /// (Accept and Refuse come back; nothing is written).
    fn chooser_outcome(&mut self, outcome: ChooserOutcome) -> Option<UiAction> {
        let (purpose, _) = self.chooser.take()?;
        match (outcome, purpose) {
            (ChooserOutcome::Cancelled, _) => None,
            (ChooserOutcome::Chosen { path, .. }, ChooserPurpose::SendFile) => {
                Some(UiAction::SendFile(path))
            }
            (ChooserOutcome::Chosen { path, overwrite }, ChooserPurpose::AcceptFile { id, .. }) => {
                if self.offer.as_ref().is_some_and(|o| o.0 == id) {
                    self.offer = None;
                }
                Some(UiAction::AcceptFile {
                    id,
                    dir: path,
                    overwrite,
                })
            }
        }
    }

    fn chooser_input(&mut self, input: UiInput) -> Option<UiAction> {
        match input {
            UiInput::Tick { time_ms } => {
                self.now_ms = self.now_ms.max(time_ms);
                return None;
            }
            // The session's Close stays reachable above the chooser.
            UiInput::Press {
                target: Some(Target::Button(ButtonId::Close)),
                ..
            } if !self.closing => {
                self.chooser = None;
                self.closing = true;
                return Some(UiAction::Close);
            }
            _ => {}
        }
        let (_, c) = self.chooser.as_mut()?;
        let outcome = c.handle(input)?;
        self.chooser_outcome(outcome)
    }

    /// Adds a chat line (counting it as unread when the technician wrote it).
    pub fn push_chat(&mut self, line: ChatLine) {
        if line.from_technician {
            self.unread += 1;
        }
        self.chat.push(line);
        if self.chat.len() > MAX_CHAT_LINES {
            self.chat.remove(0);
        }
    }

    fn send_chat(&mut self) -> Option<UiAction> {
        let text = self.chat_input.trim().to_string();
        if text.is_empty() {
            return None;
        }
        self.chat_input.clear();
        Some(UiAction::SendChat(text))
    }
    /// Seconds since the session started.
    pub fn elapsed_secs(&self) -> u64 {
        self.now_ms.saturating_sub(self.started_ms) / 1000
    }

    /// Reacts to one input; `Some` is to be sent to the session.
    pub fn handle(&mut self, input: UiInput) -> Option<UiAction> {
        if self.chooser.is_some() {
            return self.chooser_input(input);
        }
        match input {
            UiInput::Hover(t) => self.hover = t,
            UiInput::Tick { time_ms } => self.now_ms = self.now_ms.max(time_ms),
            UiInput::CloseRequested
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::Close)),
                ..
            } if !self.closing => {
                self.closing = true;
                return Some(UiAction::Close);
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::ToggleControl)),
                ..
            } if !self.closing => {
                self.control = !self.control;
                return Some(UiAction::AllowControl(self.control));
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::TogglePause)),
                ..
            } if !self.closing => {
                self.paused = !self.paused;
                return Some(UiAction::PauseSharing(self.paused));
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::SendChat)),
                ..
            } if !self.closing => {
                self.unread = 0;
                return self.send_chat();
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::AcceptFile)),
                ..
            } if !self.closing => {
                // Nothing is written before the customer chose a folder.
                let (id, name, _) = self.offer.clone()?;
                self.hover = None;
                self.open_chooser(ChooserPurpose::AcceptFile { id, name });
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::RefuseFile)),
                ..
            } if !self.closing => {
                let (id, _, _) = self.offer.take()?;
                return Some(UiAction::RefuseFile(id));
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::SendFile)),
                ..
            } if !self.closing && self.encrypted => {
                self.hover = None;
                self.open_chooser(ChooserPurpose::SendFile);
            }
            UiInput::Press { .. } => self.unread = 0,
            UiInput::Key(Key::Enter) if !self.closing => {
                self.unread = 0;
                return self.send_chat();
            }
            UiInput::Key(Key::Backspace) => {
                self.chat_input.pop();
                self.unread = 0;
            }
            UiInput::Key(Key::Char(c))
                if !c.is_control() && self.chat_input.chars().count() < MAX_CHAT_INPUT =>
            {
                self.chat_input.push(c);
                self.unread = 0;
            }
            _ => {}
        }
        None
    }
}

/// The receipt shown after the session.
#[derive(Debug, Clone)]
pub struct ReceiptModel {
    /// Texts in the profile's language.
    pub strings: &'static Strings,
    /// Who was connected.
    pub technician: String,
    /// Crypto or Chiaro.
    pub encrypted: bool,
    /// How long, in seconds.
    pub duration_secs: u64,
    /// Why it ended.
    pub reason: EndReason,
    /// Save log was pressed and no answer came yet.
    pub saving: bool,
    /// Result of the last save (localized), if any.
    pub log_note: Option<String>,
    /// The log was saved (the button is then disabled).
    pub saved: bool,
    /// The target under the pointer.
    pub hover: Option<Target>,
    /// Exit was chosen.
    pub exit: bool,
    /// Control, chat and files of the session, when known.
    pub summary: Option<SummaryInfo>,
    /// The folder chooser of "Save log", when open.
    pub chooser: Option<ChooserModel>,
    /// The customer's usual folders.
    pub places: Places,
}

impl ReceiptModel {
    fn chooser_outcome(&mut self, outcome: ChooserOutcome) -> Option<UiAction> {
        self.chooser = None;
        match outcome {
            ChooserOutcome::Cancelled => None,
            ChooserOutcome::Chosen { path, .. } => {
                self.saving = true;
                Some(UiAction::SaveLog(path))
            }
        }
    }

    /// Reacts to one input; `Some` is to be sent to the session.
    pub fn handle(&mut self, input: UiInput) -> Option<UiAction> {
        if let Some(c) = self.chooser.as_mut() {
            let outcome = c.handle(input)?;
            return self.chooser_outcome(outcome);
        }
        match input {
            UiInput::Hover(t) => self.hover = t,
            UiInput::Press {
                target: Some(Target::Button(ButtonId::SaveLog)),
                ..
            } if !self.saving && !self.saved => {
                // The log is written only where the customer chooses.
                let start = self
                    .places
                    .documents
                    .clone()
                    .unwrap_or_else(|| home_or_root(&self.places));
                self.hover = None;
                self.chooser = Some(ChooserModel::new(
                    ChooserMode::ChooseFolder,
                    self.strings.chooser_log_title().into(),
                    self.strings.chooser_save_here().into(),
                    start,
                    &self.places,
                ));
            }
            UiInput::CloseRequested
            | UiInput::Key(Key::Escape | Key::Enter)
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::Exit)),
                ..
            } => self.exit = true,
            _ => {}
        }
        None
    }
}

/// Which window is up.
#[derive(Debug, Clone)]
pub enum Screen {
    /// Choosing a technician.
    Picker(PickerModel),
    /// A session is running.
    Panel(PanelModel),
    /// The session is over.
    Receipt(ReceiptModel),
}

/// The whole UI: one screen at a time, in the order picker → panel → receipt.
#[derive(Debug, Clone)]
pub struct UiModel {
    /// The current screen.
    pub screen: Screen,
    language: super::Language,
    finished: bool,
    places: Places,
}

impl UiModel {
    /// Starts at the picker.
    pub fn new(data: PickerData) -> Self {
        Self {
            language: data.language,
            screen: Screen::Picker(PickerModel::new(data)),
            finished: false,
            places: Places::default(),
        }
    }

    /// The same UI with the customer's folders known (the file chooser's
    /// shortcuts and start folders; see [`Places::detect`]).
    pub fn with_places(mut self, places: Places) -> Self {
        self.places = places;
        self
    }

    /// The open file chooser, if any.
    pub fn chooser(&self) -> Option<&ChooserModel> {
        match &self.screen {
            Screen::Panel(p) => p.chooser.as_ref().map(|(_, c)| c),
            Screen::Receipt(r) => r.chooser.as_ref(),
            Screen::Picker(_) => None,
        }
    }

    fn chooser_mut(&mut self) -> Option<&mut ChooserModel> {
        match &mut self.screen {
            Screen::Panel(p) => p.chooser.as_mut().map(|(_, c)| c),
            Screen::Receipt(r) => r.chooser.as_mut(),
            Screen::Picker(_) => None,
        }
    }

    /// The folder the open chooser wants read (the glue answers with
    /// [`set_listing`](Self::set_listing)).
    pub fn take_listing_request(&mut self) -> Option<PathBuf> {
        self.chooser_mut()?.take_request()
    }

    /// The glue's answer to [`take_listing_request`](Self::take_listing_request);
    /// `Some` is to be sent to the session.
    pub fn set_listing(&mut self, path: PathBuf, listing: Listing) -> Option<UiAction> {
        let outcome = self.chooser_mut()?.set_listing(path, listing)?;
        match &mut self.screen {
            Screen::Panel(p) => p.chooser_outcome(outcome),
            Screen::Receipt(r) => r.chooser_outcome(outcome),
            Screen::Picker(_) => None,
        }
    }

    /// The texts in the profile's language.
    pub fn strings(&self) -> &'static Strings {
        Strings::get(self.language)
    }

    /// `true` once the UI should close for good (picker closed, or receipt
    /// dismissed).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Reacts to one input; `Some` is to be sent to the session.
    pub fn handle(&mut self, input: UiInput) -> Option<UiAction> {
        match &mut self.screen {
            Screen::Picker(p) => {
                let action = p.handle(input);
                if action == Some(UiAction::Close) {
                    self.finished = true;
                }
                action
            }
            Screen::Panel(p) => p.handle(input),
            Screen::Receipt(r) => {
                let action = r.handle(input);
                if r.exit {
                    self.finished = true;
                }
                action
            }
        }
    }

    /// Applies an update from the session at `now_ms`; switches screens on
    /// `Connected` and `Ended`.
    pub fn update(&mut self, update: SessionUpdate, now_ms: u64) {
        let strings = self.strings();
        match (&mut self.screen, update) {
            (
                Screen::Picker(_),
                SessionUpdate::Connected {
                    technician,
                    sas,
                    encrypted,
                    control,
                },
            ) => {
                let mut panel =
                    PanelModel::new(strings, technician, sas, encrypted, control, now_ms);
                panel.places = self.places.clone();
                self.screen = Screen::Panel(panel);
            }
            (Screen::Panel(p), SessionUpdate::Chat(line)) => p.push_chat(line),
            (Screen::Panel(p), SessionUpdate::FileOffered { id, name, size }) => {
                p.offer = Some((id, name, size))
            }
            (Screen::Panel(p), SessionUpdate::FileStatus { text, .. }) => {
                p.file_status = Some(text)
            }
            (Screen::Panel(p), SessionUpdate::SharingPaused(on)) => p.paused = on,
            (Screen::Panel(p), SessionUpdate::Summary(s)) => p.summary = Some(s),
            (Screen::Picker(p), u) => p.update(&u),
            (Screen::Panel(p), SessionUpdate::ControlChanged(c)) => p.control = c,
            (Screen::Panel(p), SessionUpdate::Ended { reason }) => {
                let duration_secs = now_ms.max(p.now_ms).saturating_sub(p.started_ms) / 1000;
                self.screen = Screen::Receipt(ReceiptModel {
                    strings,
                    technician: p.technician.clone(),
                    encrypted: p.encrypted,
                    duration_secs,
                    reason,
                    saving: false,
                    log_note: None,
                    saved: false,
                    hover: None,
                    exit: false,
                    summary: p.summary.take(),
                    chooser: None,
                    places: self.places.clone(),
                });
            }
            (Screen::Receipt(r), SessionUpdate::LogSaved { path }) => {
                r.saving = false;
                r.saved = true;
                r.log_note = Some(strings.log_saved(&path));
            }
            (Screen::Receipt(r), SessionUpdate::LogSaveFailed { detail }) => {
                r.saving = false;
                r.log_note = Some(strings.log_save_failed(&detail));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{Language, TechnicianEntry};

    #[test]
    fn panel_chat_unread_offer_and_pause() {
        let mut m = UiModel::new(PickerData::sample(Language::En));
        m.update(
            SessionUpdate::Connected {
                technician: "Verde".into(),
                sas: Some("123456".into()),
                encrypted: true,
                control: false,
            },
            0,
        );
        m.update(
            SessionUpdate::Chat(ChatLine {
                from_technician: true,
                time: "10:00:00".into(),
                text: "ciao".into(),
            }),
            10,
        );
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert_eq!(p.unread, 1);
        for c in "ok!".chars() {
            m.handle(UiInput::Key(Key::Char(c)));
        }
        assert_eq!(
            m.handle(UiInput::Key(Key::Enter)),
            Some(UiAction::SendChat("ok!".into()))
        );
        // Nothing typed: Enter sends nothing.
        assert_eq!(m.handle(UiInput::Key(Key::Enter)), None);
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert_eq!(p.unread, 0);
        m.update(
            SessionUpdate::FileOffered {
                id: 4,
                name: "a.txt".into(),
                size: 3,
            },
            20,
        );
        let press = |b| UiInput::Press {
            target: Some(Target::Button(b)),
            time_ms: 30,
        };
        assert_eq!(
            m.handle(press(ButtonId::RefuseFile)),
            Some(UiAction::RefuseFile(4))
        );
        assert_eq!(m.handle(press(ButtonId::RefuseFile)), None);
        assert_eq!(
            m.handle(press(ButtonId::TogglePause)),
            Some(UiAction::PauseSharing(true))
        );
        assert_eq!(
            m.handle(press(ButtonId::TogglePause)),
            Some(UiAction::PauseSharing(false))
        );
        let summary = SummaryInfo {
            started: "10:00".into(),
            control_secs: Some(65),
            chats: 2,
            files: vec!["a.txt (3 B): done".into()],
            saved_files: 0,
        };
        m.update(SessionUpdate::Summary(summary.clone()), 40);
        m.update(
            SessionUpdate::Ended {
                reason: EndReason::CustomerClosed,
            },
            50,
        );
        let Screen::Receipt(r) = &m.screen else {
            panic!("receipt")
        };
        assert_eq!(r.summary, Some(summary));
    }

    fn places() -> Places {
        Places {
            home: Some("/home/anna".into()),
            desktop: None,
            downloads: Some("/home/anna/Scaricati".into()),
            documents: Some("/home/anna/Documenti".into()),
        }
    }

    fn connected(encrypted: bool) -> UiModel {
        let mut m = UiModel::new(PickerData::sample(Language::It)).with_places(places());
        m.update(
            SessionUpdate::Connected {
                technician: "Verde".into(),
                sas: None,
                encrypted,
                control: false,
            },
            0,
        );
        m
    }

    fn button(b: ButtonId) -> UiInput {
        UiInput::Press {
            target: Some(Target::Button(b)),
            time_ms: 0,
        }
    }

    fn file(name: &str, is_dir: bool) -> crate::ui::DirEntry {
        crate::ui::DirEntry {
            name: name.into(),
            is_dir,
            size: 1,
        }
    }

    #[test]
    fn panel_send_file_goes_through_the_chooser() {
        let mut m = connected(true);
        assert_eq!(m.handle(button(ButtonId::SendFile)), None);
        assert!(crate::ui::render::window_title(&m).contains("Scegli il file"));
        assert_eq!(m.take_listing_request(), Some("/home/anna".into()));
        let listing = Listing::Dir(vec![file("Documenti", true), file("foto.png", false)]);
        assert_eq!(m.set_listing("/home/anna".into(), listing), None);
        // The clock keeps ticking under the chooser.
        m.handle(UiInput::Tick { time_ms: 5_000 });
        m.handle(UiInput::Key(Key::Down));
        assert_eq!(
            m.handle(button(ButtonId::ChooserChoose)),
            Some(UiAction::SendFile("/home/anna/foto.png".into()))
        );
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert!(p.chooser.is_none());
        assert_eq!(p.elapsed_secs(), 5);
        // Cancel sends nothing.
        m.handle(button(ButtonId::SendFile));
        assert_eq!(m.handle(button(ButtonId::ChooserCancel)), None);
        assert!(m.chooser().is_none());
        // Clear mode: no file transfer, no chooser.
        let mut clear = connected(false);
        assert_eq!(clear.handle(button(ButtonId::SendFile)), None);
        assert!(clear.chooser().is_none());
    }

    #[test]
    fn accepting_a_file_asks_where_and_before_replacing() {
        let mut m = connected(true);
        m.update(
            SessionUpdate::FileOffered {
                id: 7,
                name: "report.pdf".into(),
                size: 10,
            },
            10,
        );
        assert_eq!(m.handle(button(ButtonId::AcceptFile)), None);
        assert_eq!(m.chooser().map(|c| c.mode), Some(ChooserMode::ChooseFolder));
        // Starts in Downloads, where a report.pdf already exists.
        assert_eq!(
            m.take_listing_request(),
            Some("/home/anna/Scaricati".into())
        );
        let listing = Listing::Dir(vec![file("report.pdf", false)]);
        m.set_listing("/home/anna/Scaricati".into(), listing.clone());
        assert_eq!(m.handle(button(ButtonId::ChooserChoose)), None);
        assert!(m.chooser().is_some_and(|c| c.confirm_replace));
        // No: back to the chooser, nothing sent.
        assert_eq!(m.handle(button(ButtonId::ReplaceNo)), None);
        assert!(m.chooser().is_some_and(|c| !c.confirm_replace));
        // Cancel: the offer stays pending, nothing written.
        assert_eq!(m.handle(UiInput::Key(Key::Escape)), None);
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert_eq!(p.offer.as_ref().map(|o| o.0), Some(7));
        // Again, and Yes: accepted with overwrite.
        m.handle(button(ButtonId::AcceptFile));
        let dir = m.take_listing_request().expect("listing");
        m.set_listing(dir, listing);
        m.handle(button(ButtonId::ChooserChoose));
        assert_eq!(
            m.handle(button(ButtonId::ReplaceYes)),
            Some(UiAction::AcceptFile {
                id: 7,
                dir: "/home/anna/Scaricati".into(),
                overwrite: true
            })
        );
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert!(p.offer.is_none() && p.chooser.is_none());
        // A free name in another folder: no question.
        m.update(
            SessionUpdate::FileOffered {
                id: 8,
                name: "b.txt".into(),
                size: 1,
            },
            20,
        );
        m.handle(button(ButtonId::AcceptFile));
        let dir = m.take_listing_request().expect("listing");
        m.set_listing(dir, Listing::Dir(vec![file("report.pdf", false)]));
        assert_eq!(
            m.handle(UiInput::Key(Key::Enter)),
            Some(UiAction::AcceptFile {
                id: 8,
                dir: "/home/anna/Scaricati".into(),
                overwrite: false
            })
        );
    }

    #[test]
    fn close_stays_reachable_and_ending_drops_the_chooser() {
        let mut m = connected(true);
        m.handle(button(ButtonId::SendFile));
        // The window's close button only closes the chooser...
        assert_eq!(m.handle(UiInput::CloseRequested), None);
        assert!(m.chooser().is_none());
        // ...the session's Close in its header ends the session.
        m.handle(button(ButtonId::SendFile));
        assert_eq!(m.handle(button(ButtonId::Close)), Some(UiAction::Close));
        assert!(m.chooser().is_none());
        m.update(
            SessionUpdate::Ended {
                reason: EndReason::CustomerClosed,
            },
            100,
        );
        // The receipt's Save log starts in Documents; Cancel writes nothing.
        assert_eq!(m.handle(button(ButtonId::SaveLog)), None);
        assert_eq!(
            m.take_listing_request(),
            Some("/home/anna/Documenti".into())
        );
        m.set_listing(
            "/home/anna/Documenti".into(),
            Listing::Error("denied".into()),
        );
        assert_eq!(
            m.handle(button(ButtonId::ChooserChoose)),
            None,
            "unreadable"
        );
        assert_eq!(m.handle(button(ButtonId::ChooserCancel)), None);
        assert!(m.chooser().is_none());
        let Screen::Receipt(r) = &m.screen else {
            panic!("receipt")
        };
        assert!(!r.saving && !r.saved);
        assert!(!m.finished(), "cancelling the chooser does not exit");
    }

    fn picker() -> PickerModel {
        PickerModel::new(PickerData::sample(Language::It))
    }

    fn press(row: usize, time_ms: u64) -> UiInput {
        UiInput::Press {
            target: Some(Target::Row(row)),
            time_ms,
        }
    }

    #[test]
    fn keyboard_navigation_clamps() {
        let mut p = picker();
        assert_eq!(p.handle(UiInput::Key(Key::Up)), None);
        assert_eq!(p.selected, 0);
        p.handle(UiInput::Key(Key::Down));
        p.handle(UiInput::Key(Key::Down));
        assert_eq!(p.selected, 2);
        p.handle(UiInput::Key(Key::End));
        assert_eq!(p.selected, 3);
        p.handle(UiInput::Key(Key::Down));
        assert_eq!(p.selected, 3);
        p.handle(UiInput::Key(Key::Home));
        assert_eq!(p.selected, 0);
    }

    #[test]
    fn long_lists_scroll_to_keep_selection_visible() {
        let mut data = PickerData::sample(Language::En);
        let t = data.technicians[0].clone();
        data.technicians = (0..20)
            .map(|i| TechnicianEntry {
                id: format!("T{i}"),
                ..t.clone()
            })
            .collect();
        let mut p = PickerModel::new(data);
        assert_eq!(p.visible_rows(), MAX_VISIBLE_ROWS);
        p.handle(UiInput::Key(Key::End));
        assert_eq!(p.selected, 19);
        assert_eq!(p.scroll_top, 20 - MAX_VISIBLE_ROWS);
        p.handle(UiInput::Key(Key::Home));
        assert_eq!(p.scroll_top, 0);
        p.handle(UiInput::Scroll(100));
        assert_eq!(p.scroll_top, 20 - MAX_VISIBLE_ROWS);
        p.handle(UiInput::Scroll(-3));
        assert_eq!(p.scroll_top, 20 - MAX_VISIBLE_ROWS - 3);
    }

    #[test]
    fn double_click_needs_same_row_and_short_interval() {
        let mut p = picker();
        assert_eq!(p.handle(press(0, 1000)), None);
        // Too slow: a second single click.
        assert_eq!(p.handle(press(0, 1000 + DOUBLE_CLICK_MS + 1)), None);
        // Another row in between breaks the pair.
        assert_eq!(p.handle(press(2, 3000)), None);
        assert_eq!(p.selected, 2);
        assert_eq!(p.handle(press(0, 3100)), None);
        assert_eq!(p.selected, 0);
        let a = p.handle(press(0, 3300));
        assert_eq!(
            a,
            Some(UiAction::Connect {
                technician_index: 0,
                session_code: None
            })
        );
        assert!(p.is_connecting());
        // While connecting the list is locked.
        assert_eq!(p.handle(press(2, 3400)), None);
        assert_eq!(p.handle(press(2, 3450)), None);
        assert_eq!(p.handle(UiInput::Key(Key::Enter)), None);
    }

    #[test]
    fn enter_connects_and_failure_unlocks_the_list() {
        let mut p = picker();
        p.handle(UiInput::Key(Key::End));
        assert_eq!(
            p.handle(UiInput::Key(Key::Enter)),
            Some(UiAction::Connect {
                technician_index: 3,
                session_code: None
            })
        );
        p.update(&SessionUpdate::Connecting {
            endpoint: "cq.example.net:5500".into(),
        });
        assert_eq!(
            p.status,
            PickerStatus::Connecting {
                technician: 3,
                endpoint: Some("cq.example.net:5500".into())
            }
        );
        p.update(&SessionUpdate::Failed {
            detail: "connessione rifiutata su cq.example.net:5500".into(),
        });
        let PickerStatus::Failed { message } = &p.status else {
            panic!("not failed: {:?}", p.status);
        };
        assert_eq!(
            message,
            "Il tecnico CQ non è raggiungibile (connessione rifiutata su cq.example.net:5500). Chiama +39\u{a0}02\u{a0}0000000."
        );
        p.handle(UiInput::Key(Key::Up));
        assert_eq!(p.selected, 2);
        assert!(p.handle(UiInput::Key(Key::Enter)).is_some());
    }

    #[test]
    fn code_entry_takes_digits_only() {
        let mut p = picker();
        p.handle(UiInput::Key(Key::Down)); // Azzurro needs a code
        assert_eq!(p.handle(UiInput::Key(Key::Enter)), None);
        assert!(p.prompt.is_some());
        for c in "12a-3".chars() {
            p.handle(UiInput::Key(Key::Char(c)));
        }
        assert_eq!(p.prompt.as_ref().map(|c| c.digits.as_str()), Some("123"));
        assert_eq!(p.handle(UiInput::Key(Key::Enter)), None);
        assert!(p.prompt.as_ref().is_some_and(|c| c.too_short));
        p.handle(UiInput::Key(Key::Backspace));
        for c in "4567890123456".chars() {
            p.handle(UiInput::Key(Key::Char(c)));
        }
        assert_eq!(
            p.prompt.as_ref().map(|c| c.digits.len()),
            Some(MAX_CODE_DIGITS)
        );
        // Arrows do not move the list while typing.
        p.handle(UiInput::Key(Key::Down));
        assert_eq!(p.selected, 1);
        let a = p.handle(UiInput::Press {
            target: Some(Target::Button(ButtonId::CodeOk)),
            time_ms: 0,
        });
        assert_eq!(
            a,
            Some(UiAction::Connect {
                technician_index: 1,
                session_code: Some("124567890123".into())
            })
        );
        assert!(p.prompt.is_none());
    }

    #[test]
    fn escape_cancels_prompt_then_closes() {
        let mut ui = UiModel::new(PickerData::sample(Language::En));
        ui.handle(UiInput::Key(Key::Down));
        ui.handle(UiInput::Key(Key::Enter));
        assert_eq!(ui.handle(UiInput::Key(Key::Escape)), None);
        assert!(!ui.finished());
        assert_eq!(ui.handle(UiInput::Key(Key::Escape)), Some(UiAction::Close));
        assert!(ui.finished());
    }

    #[test]
    fn full_session_flow() {
        let mut ui = UiModel::new(PickerData::sample(Language::En));
        assert!(ui.handle(UiInput::Key(Key::Enter)).is_some());
        ui.update(
            SessionUpdate::Connected {
                technician: "Verde".into(),
                sas: Some("123456".into()),
                encrypted: true,
                control: false,
            },
            10_000,
        );
        ui.handle(UiInput::Tick { time_ms: 217_500 });
        let Screen::Panel(p) = &ui.screen else {
            panic!("no panel")
        };
        assert_eq!(p.elapsed_secs(), 207);
        let toggle = UiInput::Press {
            target: Some(Target::Button(ButtonId::ToggleControl)),
            time_ms: 0,
        };
        assert_eq!(ui.handle(toggle), Some(UiAction::AllowControl(true)));
        ui.update(SessionUpdate::ControlChanged(false), 218_000);
        assert_eq!(ui.handle(toggle), Some(UiAction::AllowControl(true)));
        // Escape does not close the panel; the window's close button does.
        assert_eq!(ui.handle(UiInput::Key(Key::Escape)), None);
        assert_eq!(ui.handle(UiInput::CloseRequested), Some(UiAction::Close));
        assert_eq!(ui.handle(UiInput::CloseRequested), None);
        assert!(!ui.finished());
        ui.update(
            SessionUpdate::Ended {
                reason: EndReason::CustomerClosed,
            },
            220_000,
        );
        let Screen::Receipt(r) = &ui.screen else {
            panic!("no receipt")
        };
        assert_eq!(r.duration_secs, 210);
        let save = UiInput::Press {
            target: Some(Target::Button(ButtonId::SaveLog)),
            time_ms: 0,
        };
        // Save log opens a folder chooser; the log is written only there.
        assert_eq!(ui.handle(save), None);
        assert!(ui.chooser().is_some());
        assert_eq!(ui.take_listing_request(), Some(PathBuf::from("/")));
        assert_eq!(ui.set_listing("/".into(), Listing::Dir(Vec::new())), None);
        assert_eq!(
            ui.handle(UiInput::Key(Key::Enter)),
            Some(UiAction::SaveLog("/".into()))
        );
        assert!(ui.chooser().is_none());
        assert_eq!(ui.handle(save), None);
        ui.update(
            SessionUpdate::LogSaved {
                path: "/home/u/remoto.log".into(),
            },
            0,
        );
        assert_eq!(ui.handle(UiInput::CloseRequested), None);
        assert!(ui.finished());
    }
}
