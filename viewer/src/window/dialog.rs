//! The accept dialog: a small window per pending customer (window mode,
//! without `--accept-all`) showing what the customer's hello says (computer,
//! user, OS, screen), the source address and the SAS — or "NOT ENCRYPTED"
//! for a clear connection — with **Refuse** and **Accept** buttons.
//!
//! Keys: Enter accepts, Escape refuses. Closing the dialog window refuses.
//! Drawing and hit-testing are plain functions over a pixel buffer so that
//! they are tested without a display.

use std::collections::BTreeMap;

use super::text::TextDrawer;

/// Narrowest dialog width in pixels.
pub const DIALOG_WIDTH: u32 = 440;
/// Widest dialog: longer lines are cut at the right edge.
pub const DIALOG_MAX_WIDTH: u32 = 960;
const LINE: u32 = 20;
const PAD: u32 = 14;
const BUTTON_W: u32 = 130;
const BUTTON_H: u32 = 30;

const BG: u32 = 0x00f4_f6f9;
const FG: u32 = 0x001f_2933;
const MUTED: u32 = 0x005f_6b7a;
const SAS_FG: u32 = 0x001b_7a3a;
const CLEAR_FG: u32 = 0x00c6_2828;
const ACCEPT_BG: u32 = 0x001b_7a3a;
const REFUSE_BG: u32 = 0x00c6_2828;
const HOVER_MIX: u32 = 0x0010_1010;
const WHITE: u32 = 0x00ff_ffff;

/// What the technician is asked about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncomingInfo {
    /// The customer's address.
    pub peer: String,
    /// The SAS (crypto only); `None` means a clear, unencrypted connection.
    pub sas: Option<String>,
    /// The customer hello as a string map (`computer_name`, `user_name`,
    /// `os`, `screen`, `program_version`); empty for clear connections.
    pub customer: BTreeMap<String, String>,
}

/// The technician's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Start the session.
    Accept,
    /// Turn the customer away.
    Refuse,
}

/// A rectangle in window pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Area {
    /// True when window point `(x, y)` lies inside.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= f64::from(self.x)
            && y >= f64::from(self.y)
            && x < f64::from(self.x + self.w)
            && y < f64::from(self.y + self.h)
    }
}

/// The window title of the dialog of session `id`.
pub fn dialog_title(id: u64) -> String {
    format!("Incoming customer — session {id}")
}

/// The text lines of the dialog with their colours.
pub fn lines(id: u64, info: &IncomingInfo) -> Vec<(String, u32)> {
    let mut v = vec![(
        format!("A customer wants to share the screen (session {id})"),
        FG,
    )];
    for (key, label) in [
        ("computer_name", "Computer"),
        ("user_name", "User"),
        ("os", "System"),
        ("screen", "Screen"),
    ] {
        if let Some(value) = info.customer.get(key) {
            v.push((format!("{label}: {value}"), FG));
        }
    }
    v.push((format!("From: {}", info.peer), MUTED));
    match &info.sas {
        Some(sas) => v.push((
            format!("SAS {sas} — must match the code on the customer's screen"),
            SAS_FG,
        )),
        None => v.push(("NOT ENCRYPTED (clear RFB connection)".into(), CLEAR_FG)),
    }
    v
}

/// Where everything goes for `n_lines` text lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialogLayout {
    /// Window width.
    pub width: u32,
    /// Window height.
    pub height: u32,
    /// The Refuse button.
    pub refuse: Area,
    /// The Accept button.
    pub accept: Area,
}

impl DialogLayout {
    /// The layout for `n_lines` lines of text, the widest `text_width`
    /// pixels: the dialog is as wide as its longest line (between
    /// [`DIALOG_WIDTH`] and [`DIALOG_MAX_WIDTH`]).
    pub fn new(n_lines: usize, text_width: u32) -> Self {
        let width = text_width
            .saturating_add(2 * PAD)
            .clamp(DIALOG_WIDTH, DIALOG_MAX_WIDTH);
        let text_h = LINE * u32::try_from(n_lines).unwrap_or(16).min(16);
        let buttons_y = PAD + text_h + PAD;
        let height = buttons_y + BUTTON_H + PAD;
        let accept = Area {
            x: width - PAD - BUTTON_W,
            y: buttons_y,
            w: BUTTON_W,
            h: BUTTON_H,
        };
        let refuse = Area {
            x: accept.x - PAD - BUTTON_W,
            ..accept
        };
        DialogLayout {
            width,
            height,
            refuse,
            accept,
        }
    }

    /// The button at window position `(x, y)`.
    pub fn hit(&self, x: f64, y: f64) -> Option<Answer> {
        if self.accept.contains(x, y) {
            Some(Answer::Accept)
        } else if self.refuse.contains(x, y) {
            Some(Answer::Refuse)
        } else {
            None
        }
    }
}

fn fill(buf: &mut [u32], stride: usize, a: Area, colour: u32) {
    for y in a.y..a.y + a.h {
        let start = y as usize * stride + a.x as usize;
        let end = (start + a.w as usize).min((y as usize + 1) * stride);
        if let Some(row) = buf.get_mut(start.min(end)..end) {
            row.fill(colour);
        }
    }
}

/// Draws the dialog into `buf` (`stride` × `rows`), `hover` highlighting a button.
pub fn draw(
    buf: &mut [u32],
    stride: usize,
    rows: usize,
    text: &mut TextDrawer,
    lines: &[(String, u32)],
    layout: &DialogLayout,
    hover: Option<Answer>,
) {
    buf.fill(BG);
    for (i, (line, colour)) in lines.iter().enumerate().take(16) {
        let baseline = i64::from(PAD) + (i as i64 + 1) * i64::from(LINE) - 5;
        text.draw(
            buf,
            stride,
            rows,
            stride.saturating_sub(PAD as usize / 2),
            i64::from(PAD),
            baseline,
            line,
            *colour,
        );
    }
    for (area, label, bg, which) in [
        (layout.refuse, "Refuse (Esc)", REFUSE_BG, Answer::Refuse),
        (layout.accept, "Accept (Enter)", ACCEPT_BG, Answer::Accept),
    ] {
        let colour = if hover == Some(which) {
            bg.saturating_sub(HOVER_MIX)
        } else {
            bg
        };
        fill(buf, stride, area, colour);
        let w = text.width(label);
        let x = i64::from(area.x) + (i64::from(area.w) - w).max(0) / 2;
        let baseline = i64::from(area.y + area.h / 2 + 5);
        text.draw(buf, stride, rows, stride, x, baseline, label, WHITE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sas: Option<&str>) -> IncomingInfo {
        let mut customer = BTreeMap::new();
        customer.insert("computer_name".into(), "pc-rossi".into());
        customer.insert("user_name".into(), "mario".into());
        IncomingInfo {
            peer: "127.0.0.1:40000".into(),
            sas: sas.map(str::to_string),
            customer,
        }
    }

    #[test]
    fn lines_name_the_customer_and_the_sas_or_clear() {
        let l = lines(3, &info(Some("123 456")));
        let all: Vec<&str> = l.iter().map(|(s, _)| s.as_str()).collect();
        assert!(all.contains(&"Computer: pc-rossi"), "{all:?}");
        assert!(all.contains(&"User: mario"), "{all:?}");
        assert!(all.iter().any(|s| s.starts_with("SAS 123 456")), "{all:?}");
        let clear = lines(4, &info(None));
        assert!(
            clear
                .iter()
                .any(|(s, c)| s.contains("NOT ENCRYPTED") && *c == CLEAR_FG)
        );
    }

    #[test]
    fn buttons_hit_and_draw_inside() {
        let l = lines(1, &info(None));
        let layout = DialogLayout::new(l.len(), 100);
        assert_eq!(layout.width, DIALOG_WIDTH);
        let a = layout.accept;
        let r = layout.refuse;
        assert_eq!(
            layout.hit(f64::from(a.x + 2), f64::from(a.y + 2)),
            Some(Answer::Accept)
        );
        assert_eq!(
            layout.hit(f64::from(r.x + r.w - 1), f64::from(r.y + r.h - 1)),
            Some(Answer::Refuse)
        );
        assert_eq!(layout.hit(1.0, 1.0), None);
        assert!(r.x + r.w < a.x && a.x + a.w <= layout.width);
        let (w, h) = (layout.width as usize, layout.height as usize);
        let mut buf = vec![0u32; w * h];
        let mut t = TextDrawer::new(13.0);
        draw(&mut buf, w, h, &mut t, &l, &layout, Some(Answer::Accept));
        for label in ["Refuse (Esc)", "Accept (Enter)"] {
            assert!(
                t.width(label) < i64::from(BUTTON_W),
                "{label} fits its button"
            );
        }
        let px = buf[(a.y as usize + 1) * w + a.x as usize + 1];
        assert_eq!(px, ACCEPT_BG - HOVER_MIX);
        assert_eq!(buf[(r.y as usize + 1) * w + r.x as usize + 1], REFUSE_BG);
    }

    #[test]
    fn dialog_is_as_wide_as_its_longest_line() {
        let mut i = info(Some("123 456"));
        i.customer.insert(
            "os".into(),
            "linux (Debian GNU/Linux 12 (bookworm)), kernel 6.18.44-fc-v782".into(),
        );
        let l = lines(1, &i);
        let mut t = TextDrawer::new(13.0);
        let widest = l.iter().map(|(s, _)| t.width(s)).max().unwrap_or(0);
        let layout = DialogLayout::new(l.len(), u32::try_from(widest).unwrap_or(0));
        assert!(layout.width > DIALOG_WIDTH, "{} px", layout.width);
        assert!(i64::from(layout.width) >= widest + 2 * i64::from(PAD));
        assert_eq!(layout.accept.x + layout.accept.w + PAD, layout.width);
        // A hostile customer's endless line does not make an endless window.
        let huge = DialogLayout::new(3, u32::MAX);
        assert_eq!(huge.width, DIALOG_MAX_WIDTH);
    }
}
