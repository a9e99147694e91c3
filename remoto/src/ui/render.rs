//! Draws a [`UiModel`] into a pixel buffer and reports where each clickable
//! [`Target`] is.
//!
//! Layout is done in logical pixels and multiplied by the window's scale
//! factor; the same code computes a screen's size (dry run, no buffer) and
//! draws it, so the two can never disagree.

use super::chooser::{CHOOSER_ROWS, ChooserMode, ChooserModel};
use super::draw::{Canvas, Fonts, Rect, Style};
use super::model::{
    ButtonId, PanelModel, PickerModel, PickerStatus, ReceiptModel, Screen, Target, UiModel,
};
use super::strings::{Strings, format_elapsed, format_sas};
use super::{ChatLine, EndReason};

/// Colours (0x00RRGGBB).
pub mod color {
    /// Window background.
    pub const BG: u32 = 0xF4F6F9;
    /// Cards and list background.
    pub const CARD: u32 = 0xFFFFFF;
    /// Thin borders and separators.
    pub const BORDER: u32 = 0xD5DBE3;
    /// Main text.
    pub const TEXT: u32 = 0x1F2933;
    /// Secondary text.
    pub const MUTED: u32 = 0x5F6B7A;
    /// Header band.
    pub const HEADER: u32 = 0x1D4F91;
    /// Text under the header title.
    pub const HEADER_SUB: u32 = 0xD3E0F2;
    /// Primary buttons.
    pub const ACCENT: u32 = 0x2563A8;
    /// Primary buttons under the pointer.
    pub const ACCENT_HOVER: u32 = 0x1D4F91;
    /// Selected row background.
    pub const SELECTED: u32 = 0xE1ECFA;
    /// Row under the pointer.
    pub const HOVER: u32 = 0xF2F5F9;
    /// Crypto mark and success texts.
    pub const GREEN: u32 = 0x1B7A3A;
    /// Crypto badge and success box background.
    pub const GREEN_BG: u32 = 0xE3F3E8;
    /// Success box border.
    pub const GREEN_BORDER: u32 = 0xA9D6B7;
    /// Chiaro mark (warning colour).
    pub const CLEAR: u32 = 0xD9480F;
    /// Chiaro badge background.
    pub const CLEAR_BG: u32 = 0xFDE8DC;
    /// "not encrypted" text and danger buttons.
    pub const RED: u32 = 0xC62828;
    /// Danger buttons under the pointer.
    pub const RED_HOVER: u32 = 0xA51F1F;
    /// Error box background.
    pub const RED_BG: u32 = 0xFDECEC;
    /// Error box border.
    pub const RED_BORDER: u32 = 0xF2B8B8;
    /// Error text.
    pub const RED_TEXT: u32 = 0x9B1C1C;
    /// Information box background.
    pub const INFO_BG: u32 = 0xE6EFFA;
    /// Information box border.
    pub const INFO_BORDER: u32 = 0xB5CBE8;
    /// Footer band.
    pub const FOOTER: u32 = 0xE6EAF0;
    /// Disabled buttons.
    pub const DISABLED: u32 = 0xC3CBD5;
    /// White.
    pub const WHITE: u32 = 0xFFFFFF;
}

use color::*;

/// Logical width of the picker window.
pub const PICKER_WIDTH: f32 = 520.0;
/// Logical width of the session panel.
pub const PANEL_WIDTH: f32 = 360.0;
/// Logical width of the receipt.
pub const RECEIPT_WIDTH: f32 = 460.0;
/// Height of one technician row.
pub const ROW_HEIGHT: f32 = 50.0;
/// Logical width of the file chooser (the panel's, so the always-on-top
/// window keeps its place at the screen's edge).
pub const CHOOSER_WIDTH: f32 = PANEL_WIDTH;
/// Height of one chooser row.
pub const CHOOSER_ROW_HEIGHT: f32 = 26.0;

/// A clickable region of the last frame (physical pixels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Where.
    pub rect: Rect,
    /// What.
    pub target: Target,
}

/// The target at pixel `(x, y)`, if any.
pub fn hit_test(hits: &[Hit], x: i32, y: i32) -> Option<Target> {
    hits.iter()
        .rev()
        .find(|h| h.rect.contains(x, y))
        .map(|h| h.target)
}

/// The rectangle of `target` in `hits`, if it was drawn.
pub fn find_target(hits: &[Hit], target: Target) -> Option<Rect> {
    hits.iter().find(|h| h.target == target).map(|h| h.rect)
}

/// Draws models; holds the fonts and their glyph cache.
#[derive(Debug)]
pub struct Renderer {
    fonts: Fonts,
}

impl Renderer {
    /// Loads the bundled fonts.
    pub fn new() -> Result<Self, String> {
        Ok(Self {
            fonts: Fonts::new()?,
        })
    }

    /// The size (physical pixels) the current screen wants at `scale`.
    pub fn size(&mut self, model: &UiModel, scale: f32) -> (u32, u32) {
        let mut p = Painter::new(None, &mut self.fonts, scale);
        let (w, h) = layout(&mut p, model);
        (p.len(w).max(1) as u32, p.len(h).max(1) as u32)
    }

    /// Draws the current screen into `buf` (`width × height`, 0x00RRGGBB)
    /// and returns the clickable regions.
    pub fn render(
        &mut self,
        model: &UiModel,
        scale: f32,
        buf: &mut [u32],
        width: u32,
        height: u32,
    ) -> Vec<Hit> {
        let mut canvas = Canvas::new(buf, width, height);
        canvas.clear(BG);
        let mut p = Painter::new(Some(&mut canvas), &mut self.fonts, scale);
        layout(&mut p, model);
        p.hits
    }
}

/// The window title for the current screen.
pub fn window_title(model: &UiModel) -> String {
    let s = model.strings();
    if let Some(c) = model.chooser() {
        return format!("Remoto — {}", c.title);
    }
    match &model.screen {
        Screen::Picker(p) => p.data.window_title(),
        Screen::Panel(p) => format!("Remoto — {}", s.session_with(&p.technician)),
        Screen::Receipt(_) => format!("Remoto — {}", s.session_ended),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Primary,
    Secondary,
    Danger,
    Warning,
}

struct Painter<'c, 'b, 'f> {
    canvas: Option<&'c mut Canvas<'b>>,
    fonts: &'f mut Fonts,
    scale: f32,
    hits: Vec<Hit>,
}

// Drawing helpers take a geometry (x, y, w, h) plus style, label and colours.
#[allow(clippy::too_many_arguments)]
impl<'c, 'b, 'f> Painter<'c, 'b, 'f> {
    fn new(canvas: Option<&'c mut Canvas<'b>>, fonts: &'f mut Fonts, scale: f32) -> Self {
        let scale = if scale.is_finite() && scale > 0.25 {
            scale.min(8.0)
        } else {
            1.0
        };
        Self {
            canvas,
            fonts,
            scale,
            hits: Vec::new(),
        }
    }

    fn len(&self, v: f32) -> i32 {
        (v * self.scale).round() as i32
    }

    fn rect(&self, x: f32, y: f32, w: f32, h: f32) -> Rect {
        let x0 = self.len(x);
        let y0 = self.len(y);
        Rect::new(x0, y0, self.len(x + w) - x0, self.len(y + h) - y0)
    }

    fn style(&self, s: Style) -> Style {
        Style {
            px: s.px * self.scale,
            bold: s.bold,
        }
    }

    fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, color: u32) {
        let r = self.rect(x, y, w, h);
        if let Some(c) = self.canvas.as_deref_mut() {
            c.fill_rect(r, color);
        }
    }

    fn rounded(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, color: u32) {
        let r = self.rect(x, y, w, h);
        let rad = self.len(radius);
        if let Some(c) = self.canvas.as_deref_mut() {
            c.fill_rounded(r, rad, color);
        }
    }

    fn boxed(&mut self, x: f32, y: f32, w: f32, h: f32, radius: f32, line: u32, fill: u32) {
        let r = self.rect(x, y, w, h);
        let rad = self.len(radius);
        let border = self.len(1.0).max(1);
        if let Some(c) = self.canvas.as_deref_mut() {
            c.outlined(r, rad, border, line, fill);
        }
    }

    fn circle(&mut self, x: f32, y: f32, d: f32, color: u32) {
        let (x, y, d) = (self.len(x), self.len(y), self.len(d));
        if let Some(c) = self.canvas.as_deref_mut() {
            c.fill_circle(x, y, d, color);
        }
    }

    fn padlock(&mut self, x: f32, y: f32, h: f32, color: u32) {
        let (x, y, h) = (self.len(x), self.len(y), self.len(h));
        if let Some(c) = self.canvas.as_deref_mut() {
            c.padlock(x, y, h, color);
        }
    }

    /// Text width in logical pixels.
    fn measure(&self, text: &str, style: Style) -> f32 {
        self.fonts.measure(text, self.style(style)) / self.scale
    }

    /// Draws `text` with its baseline at logical `y`; returns the end x.
    fn text(&mut self, x: f32, y: f32, text: &str, style: Style, color: u32) -> f32 {
        let st = self.style(style);
        let (px, py) = (x * self.scale, (y * self.scale).round());
        if let Some(c) = self.canvas.as_deref_mut() {
            self.fonts.draw(c, text, px.round(), py, st, color);
        }
        x + self.measure(text, style)
    }

    /// Text ellipsized to `width`.
    fn text_fit(&mut self, x: f32, y: f32, width: f32, text: &str, style: Style, color: u32) {
        let st = self.style(style);
        let t = self.fonts.ellipsize(text, st, width * self.scale);
        self.text(x, y, &t, style, color);
    }

    fn wrap(&self, text: &str, style: Style, width: f32) -> Vec<String> {
        self.fonts.wrap(text, self.style(style), width * self.scale)
    }

    /// Wrapped paragraph whose first baseline is at `y`; returns the y
    /// below its last line. At most `max_lines` lines (the last ellipsized).
    fn paragraph(
        &mut self,
        x: f32,
        y: f32,
        width: f32,
        text: &str,
        style: Style,
        line_h: f32,
        color: u32,
        max_lines: usize,
    ) -> f32 {
        let mut lines = self.wrap(text, style, width);
        if lines.len() > max_lines {
            lines.truncate(max_lines);
            if let Some(last) = lines.last_mut() {
                let st = self.style(style);
                *last = self
                    .fonts
                    .ellipsize(&format!("{last}…"), st, width * self.scale);
            }
        }
        let mut baseline = y;
        for l in &lines {
            self.text(x, baseline, l, style, color);
            baseline += line_h;
        }
        y - self.fonts.ascent(self.style(style)) / self.scale + lines.len() as f32 * line_h
    }

    fn hit(&mut self, x: f32, y: f32, w: f32, h: f32, target: Target) {
        let rect = self.rect(x, y, w, h);
        self.hits.push(Hit { rect, target });
    }

    fn button(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        label: &str,
        kind: Kind,
        id: ButtonId,
        hover: Option<Target>,
        enabled: bool,
    ) {
        let hovered = enabled && hover == Some(Target::Button(id));
        let (bg, fg) = match (enabled, kind, hovered) {
            (false, _, _) => (DISABLED, WHITE),
            (true, Kind::Primary, false) => (ACCENT, WHITE),
            (true, Kind::Primary, true) => (ACCENT_HOVER, WHITE),
            (true, Kind::Danger, false) => (RED, WHITE),
            (true, Kind::Danger, true) => (RED_HOVER, WHITE),
            (true, Kind::Warning, false) => (CLEAR, WHITE),
            (true, Kind::Warning, true) => (0xB83C0C, WHITE),
            (true, Kind::Secondary, false) => (CARD, TEXT),
            (true, Kind::Secondary, true) => (HOVER, TEXT),
        };
        if kind == Kind::Secondary && enabled {
            self.boxed(x, y, w, h, 6.0, BORDER, bg);
        } else {
            self.rounded(x, y, w, h, 6.0, bg);
        }
        let style = Style::bold(13.0);
        let tw = self.measure(label, style);
        let asc = self.fonts.ascent(self.style(style)) / self.scale;
        let cap = asc * 0.72;
        let tx = x + ((w - tw) / 2.0).max(6.0);
        self.text_fit(tx, y + (h + cap) / 2.0, w - 12.0, label, style, fg);
        if enabled {
            self.hit(x, y, w, h, Target::Button(id));
        }
    }
}

fn layout(p: &mut Painter<'_, '_, '_>, model: &UiModel) -> (f32, f32) {
    let s = model.strings();
    match &model.screen {
        Screen::Panel(m) if m.chooser.is_some() => {
            let sub = s.session_with(&m.technician);
            let c = m.chooser.as_ref().map(|(_, c)| c);
            (
                CHOOSER_WIDTH,
                c.map_or(0.0, |c| chooser(p, c, s, &sub, true)),
            )
        }
        Screen::Receipt(r) if r.chooser.is_some() => (
            CHOOSER_WIDTH,
            r.chooser
                .as_ref()
                .map_or(0.0, |c| chooser(p, c, s, "Remoto", false)),
        ),
        Screen::Picker(m) => (PICKER_WIDTH, picker(p, m)),
        Screen::Panel(m) => (PANEL_WIDTH, panel(p, m)),
        Screen::Receipt(m) => (RECEIPT_WIDTH, receipt(p, m)),
    }
}

/// The header band; returns its height.
fn header(p: &mut Painter<'_, '_, '_>, width: f32, top: &str, title: &str, big_title: bool) -> f32 {
    let h = 64.0;
    p.fill(0.0, 0.0, width, h, HEADER);
    if big_title {
        p.text_fit(20.0, 31.0, width - 40.0, top, Style::bold(21.0), WHITE);
        p.text_fit(
            20.0,
            52.0,
            width - 40.0,
            title,
            Style::regular(13.0),
            HEADER_SUB,
        );
    } else {
        p.text_fit(
            18.0,
            24.0,
            width - 36.0,
            top,
            Style::regular(12.0),
            HEADER_SUB,
        );
        p.text_fit(18.0, 48.0, width - 36.0, title, Style::bold(18.0), WHITE);
    }
    h
}

/// A small rounded badge; returns its width. Drawn with its right edge at `right`.
fn badge(p: &mut Painter<'_, '_, '_>, right: f32, y: f32, encrypted: bool, s: &Strings) -> f32 {
    let style = Style::bold(12.0);
    let label = if encrypted { s.crypto } else { s.clear };
    let tw = p.measure(label, style);
    let (h, icon) = (22.0, 12.0);
    let w = 10.0 + icon + 6.0 + tw + 10.0;
    let x = right - w;
    let (bg, fg) = if encrypted {
        (GREEN_BG, GREEN)
    } else {
        (CLEAR_BG, CLEAR)
    };
    p.rounded(x, y, w, h, h / 2.0, bg);
    if encrypted {
        p.padlock(x + 10.0, y + 4.5, 13.0, fg);
    } else {
        p.circle(x + 9.0, y + 4.0, 14.0, fg);
        p.text(x + 14.5, y + 15.5, "!", Style::bold(11.0), WHITE);
    }
    p.text(x + 10.0 + icon + 6.0, y + 15.5, label, style, fg);
    w
}

fn picker(p: &mut Painter<'_, '_, '_>, m: &PickerModel) -> f32 {
    let s = m.strings();
    let w = PICKER_WIDTH;
    let margin = 20.0;
    let inner = w - 2.0 * margin;
    let mut y = header(p, w, &m.data.brand_name, &m.data.title, true);

    // The team's message.
    y += 16.0;
    if !m.data.message.trim().is_empty() {
        y = p.paragraph(
            margin,
            y + 14.0,
            inner,
            &m.data.message,
            Style::regular(14.0),
            20.0,
            TEXT,
            4,
        );
        y += 14.0;
    }

    // Section title.
    p.text(
        margin,
        y + 11.0,
        &s.technicians.to_uppercase(),
        Style::bold(11.0),
        MUTED,
    );
    y += 20.0;

    // The list.
    let rows = m.visible_rows();
    let list_h = rows as f32 * ROW_HEIGHT + 2.0;
    p.boxed(margin, y, inner, list_h, 8.0, BORDER, CARD);
    let locked = m.is_connecting() || m.prompt.is_some();
    if m.data.technicians.is_empty() {
        p.text_fit(
            margin + 16.0,
            y + 30.0,
            inner - 32.0,
            s.no_technicians,
            Style::regular(13.0),
            MUTED,
        );
    }
    let scrollbar = m.data.technicians.len() > rows;
    let row_w = inner - 2.0 - if scrollbar { 8.0 } else { 0.0 };
    for (vis, (i, t)) in m
        .data
        .technicians
        .iter()
        .enumerate()
        .skip(m.scroll_top)
        .take(rows)
        .enumerate()
    {
        let ry = y + 1.0 + vis as f32 * ROW_HEIGHT;
        let rx = margin + 1.0;
        let selected = i == m.selected;
        if selected {
            p.fill(rx, ry, row_w, ROW_HEIGHT, SELECTED);
            p.fill(rx, ry + 6.0, 3.0, ROW_HEIGHT - 12.0, HEADER);
        } else if !locked && m.hover == Some(super::Target::Row(i)) {
            p.fill(rx, ry, row_w, ROW_HEIGHT, HOVER);
        }
        if vis > 0 {
            p.fill(rx + 12.0, ry, row_w - 24.0, 1.0, 0xE6EAF0);
        }
        // Right side: badge and, for Chiaro, the explicit warning.
        let right = rx + row_w - 12.0;
        let bw = badge(p, right, ry + (ROW_HEIGHT - 22.0) / 2.0, t.encrypted, s);
        let mut text_right = right - bw - 10.0;
        if !t.encrypted {
            let warn = s.not_encrypted_paren;
            let ww = p.measure(warn, Style::bold(12.0));
            p.text(
                text_right - ww,
                ry + ROW_HEIGHT / 2.0 + 4.5,
                warn,
                Style::bold(12.0),
                RED,
            );
            text_right -= ww + 10.0;
        }
        // Left side: ID and its description.
        let tx = rx + 16.0;
        let mut sub: Vec<&str> = Vec::new();
        if let Some(l) = t.label.as_deref().filter(|l| !l.trim().is_empty()) {
            sub.push(l);
        }
        if t.needs_code {
            sub.push(s.code_required);
        }
        let id_style = Style::bold(15.0);
        if sub.is_empty() {
            p.text_fit(tx, ry + 30.5, text_right - tx, &t.id, id_style, TEXT);
        } else {
            p.text_fit(tx, ry + 22.0, text_right - tx, &t.id, id_style, TEXT);
            p.text_fit(
                tx,
                ry + 39.0,
                text_right - tx,
                &sub.join(" · "),
                Style::regular(12.0),
                MUTED,
            );
        }
        if !locked {
            p.hit(rx, ry, row_w, ROW_HEIGHT, super::Target::Row(i));
        }
    }
    if scrollbar {
        let track_h = list_h - 12.0;
        let n = m.data.technicians.len() as f32;
        let thumb_h = (track_h * rows as f32 / n).max(16.0);
        let thumb_y = y + 6.0 + (track_h - thumb_h) * m.scroll_top as f32 / (n - rows as f32);
        p.rounded(margin + inner - 8.0, thumb_y, 4.0, thumb_h, 2.0, DISABLED);
    }
    y += list_h + 14.0;

    // Status area (fixed height so that the window never jumps).
    let area_h = 88.0; // four lines of status text
    status_area(p, m, s, margin, y, inner, area_h);
    y += area_h + 14.0;

    // Footer with the phone numbers.
    let phones = m.data.phones.join("   ·   ");
    let lines = if phones.is_empty() {
        Vec::new()
    } else {
        p.wrap(&phones, Style::bold(16.0), inner)
    };
    let footer_h = if lines.is_empty() {
        0.0
    } else {
        34.0 + lines.len() as f32 * 22.0
    };
    if footer_h > 0.0 {
        p.fill(0.0, y, w, footer_h, FOOTER);
        p.fill(0.0, y, w, 1.0, BORDER);
        p.text(
            margin,
            y + 20.0,
            &s.phones.to_uppercase(),
            Style::bold(11.0),
            MUTED,
        );
        let mut by = y + 42.0;
        for l in &lines {
            p.text(margin, by, l, Style::bold(16.0), TEXT);
            by += 22.0;
        }
    }
    y + footer_h
}

fn status_area(
    p: &mut Painter<'_, '_, '_>,
    m: &PickerModel,
    s: &Strings,
    x: f32,
    y: f32,
    width: f32,
    height: f32,
) {
    if let Some(prompt) = &m.prompt {
        let tech = m
            .data
            .technicians
            .get(prompt.technician)
            .map_or("?", |t| t.id.as_str());
        p.boxed(x, y, width, height, 8.0, INFO_BORDER, INFO_BG);
        let msg = if prompt.too_short {
            s.code_too_short(super::MIN_CODE_DIGITS)
        } else {
            s.code_prompt(tech)
        };
        let color = if prompt.too_short { RED_TEXT } else { TEXT };
        p.text_fit(
            x + 12.0,
            y + 22.0,
            width - 24.0,
            &msg,
            Style::regular(13.0),
            color,
        );
        // Field, then OK and Cancel.
        let (fy, fh) = (y + 36.0, 38.0);
        let fw = width - 24.0 - 2.0 * 112.0 - 16.0;
        p.rounded(x + 12.0, fy, fw, fh, 6.0, ACCENT);
        p.rounded(x + 14.0, fy + 2.0, fw - 4.0, fh - 4.0, 5.0, CARD);
        p.hit(x + 12.0, fy, fw, fh, Target::CodeField);
        let digit_style = Style::bold(18.0);
        let end = if prompt.digits.is_empty() {
            p.text(
                x + 26.0,
                fy + 25.0,
                s.code_placeholder,
                Style::regular(14.0),
                DISABLED,
            );
            x + 24.0
        } else {
            let spaced: String = prompt
                .digits
                .chars()
                .flat_map(|c| [c, '\u{2009}'])
                .collect();
            p.text(x + 24.0, fy + 26.0, spaced.trim_end(), digit_style, TEXT) + 1.0
        };
        p.fill(end, fy + 9.0, 2.0, fh - 18.0, ACCENT);
        let bx = x + 12.0 + fw + 8.0;
        let ok = prompt.digits.len() >= super::MIN_CODE_DIGITS;
        p.button(
            bx,
            fy,
            112.0,
            fh,
            s.connect,
            Kind::Primary,
            ButtonId::CodeOk,
            m.hover,
            ok,
        );
        p.button(
            bx + 120.0,
            fy,
            112.0,
            fh,
            s.cancel,
            Kind::Secondary,
            ButtonId::CodeCancel,
            m.hover,
            true,
        );
        return;
    }
    let bw = 132.0;
    let box_w = width - bw - 12.0;
    let connecting = m.is_connecting();
    p.button(
        x + width - bw,
        y,
        bw,
        40.0,
        s.connect,
        Kind::Primary,
        ButtonId::Connect,
        m.hover,
        !connecting && !m.data.technicians.is_empty(),
    );
    let text_style = Style::regular(13.0);
    match &m.status {
        PickerStatus::Idle => {
            p.paragraph(
                x,
                y + 16.0,
                box_w,
                s.picker_hint,
                text_style,
                19.0,
                MUTED,
                4,
            );
        }
        PickerStatus::Connecting {
            technician,
            endpoint,
        } => {
            let tech = m
                .data
                .technicians
                .get(*technician)
                .map_or("?", |t| t.id.as_str());
            p.boxed(x, y, box_w, height, 8.0, INFO_BORDER, INFO_BG);
            p.circle(x + 12.0, y + 12.0, 9.0, ACCENT);
            p.paragraph(
                x + 30.0,
                y + 20.0,
                box_w - 40.0,
                &s.connecting(tech, endpoint.as_deref()),
                text_style,
                18.0,
                HEADER,
                4,
            );
        }
        PickerStatus::Failed { message } => {
            p.boxed(x, y, box_w, height, 8.0, RED_BORDER, RED_BG);
            p.circle(x + 10.0, y + 9.0, 14.0, RED);
            p.text(x + 15.0, y + 20.5, "!", Style::bold(11.0), WHITE);
            p.paragraph(
                x + 32.0,
                y + 20.0,
                box_w - 40.0,
                message,
                text_style,
                18.0,
                RED_TEXT,
                4,
            );
        }
    }
}

fn panel(p: &mut Painter<'_, '_, '_>, m: &PanelModel) -> f32 {
    let s = m.strings;
    let w = PANEL_WIDTH;
    let margin = 16.0;
    let inner = w - 2.0 * margin;
    let mut y = header(
        p,
        w,
        s.session_active,
        &s.session_with(&m.technician),
        false,
    );
    y += 14.0;

    // Security: SAS or a red warning.
    let box_h = 88.0;
    if m.encrypted {
        p.boxed(margin, y, inner, box_h, 8.0, GREEN_BORDER, GREEN_BG);
        p.padlock(margin + 12.0, y + 9.0, 15.0, GREEN);
        p.text(
            margin + 32.0,
            y + 22.0,
            s.verification_code,
            Style::bold(12.0),
            GREEN,
        );
        let sas = m.sas.as_deref().map_or_else(|| "—".to_string(), format_sas);
        p.text_fit(
            margin + 12.0,
            y + 58.0,
            inner - 24.0,
            &sas,
            Style::bold(30.0),
            TEXT,
        );
        p.text_fit(
            margin + 12.0,
            y + 77.0,
            inner - 24.0,
            s.sas_hint,
            Style::regular(11.0),
            MUTED,
        );
    } else {
        p.rounded(margin, y, inner, box_h, 8.0, RED);
        p.circle(margin + 14.0, y + 18.0, 26.0, WHITE);
        p.text(margin + 23.5, y + 38.0, "!", Style::bold(20.0), RED);
        p.text_fit(
            margin + 50.0,
            y + 39.0,
            inner - 62.0,
            s.not_encrypted_banner,
            Style::bold(22.0),
            WHITE,
        );
        p.text_fit(
            margin + 14.0,
            y + 72.0,
            inner - 28.0,
            s.not_encrypted_hint,
            Style::regular(12.0),
            WHITE,
        );
    }
    y += box_h + 16.0;

    // Elapsed time.
    p.text(margin, y + 14.0, s.elapsed, Style::regular(13.0), MUTED);
    let t = format_elapsed(m.elapsed_secs());
    let tw = p.measure(&t, Style::bold(16.0));
    p.text(margin + inner - tw, y + 15.0, &t, Style::bold(16.0), TEXT);
    y += 26.0;
    p.fill(margin, y, inner, 1.0, 0xE1E6ED);
    y += 12.0;

    // Control state.
    let (dot, text) = if m.control {
        (CLEAR, s.in_control)
    } else {
        (0x8A96A5, s.view_only)
    };
    p.circle(margin, y + 4.0, 9.0, dot);
    let after = p.paragraph(
        margin + 16.0,
        y + 13.0,
        inner - 16.0,
        text,
        Style::regular(13.0),
        18.0,
        TEXT,
        2,
    );
    y = after + 12.0;

    // Buttons.
    let bw = (inner - 10.0) / 2.0;
    let (label, kind) = if m.control {
        (s.stop_control, Kind::Warning)
    } else {
        (s.allow_control, Kind::Secondary)
    };
    p.button(
        margin,
        y,
        bw,
        38.0,
        label,
        kind,
        ButtonId::ToggleControl,
        m.hover,
        !m.closing,
    );
    p.button(
        margin + bw + 10.0,
        y,
        bw,
        38.0,
        if m.closing { s.closing } else { s.close },
        Kind::Danger,
        ButtonId::Close,
        m.hover,
        !m.closing,
    );
    y += 38.0 + 10.0;
    panel_extras(p, m, y)
}

/// Privacy button, file offer, transfer status and chat box of the panel.
fn panel_extras(p: &mut Painter<'_, '_, '_>, m: &PanelModel, mut y: f32) -> f32 {
    let s = m.strings;
    let margin = 16.0;
    let inner = PANEL_WIDTH - 2.0 * margin;
    let (label, kind) = if m.paused {
        (s.resume_sharing(), Kind::Warning)
    } else {
        (s.pause_sharing(), Kind::Secondary)
    };
    // Sending a file needs the encrypted channel: beside Pause only then.
    let pause_w = if m.encrypted {
        (inner - 10.0) / 2.0
    } else {
        inner
    };
    p.button(
        margin,
        y,
        pause_w,
        34.0,
        label,
        kind,
        ButtonId::TogglePause,
        m.hover,
        !m.closing,
    );
    if m.encrypted {
        p.button(
            margin + pause_w + 10.0,
            y,
            pause_w,
            34.0,
            s.send_file(),
            Kind::Primary,
            ButtonId::SendFile,
            m.hover,
            !m.closing,
        );
    }
    y += 34.0 + 12.0;
    if !m.encrypted {
        return y + 4.0;
    }
    if let Some((_, name, size)) = &m.offer {
        let after = p.paragraph(
            margin,
            y + 13.0,
            inner,
            &s.file_offer(name, *size),
            Style::regular(12.0),
            16.0,
            TEXT,
            2,
        );
        y = after + 6.0;
        let bw = (inner - 10.0) / 2.0;
        p.button(
            margin,
            y,
            bw,
            32.0,
            s.accept(),
            Kind::Primary,
            ButtonId::AcceptFile,
            m.hover,
            !m.closing,
        );
        p.button(
            margin + bw + 10.0,
            y,
            bw,
            32.0,
            s.refuse(),
            Kind::Secondary,
            ButtonId::RefuseFile,
            m.hover,
            !m.closing,
        );
        y += 32.0 + 10.0;
    }
    if let Some(st) = &m.file_status {
        p.text_fit(margin, y + 12.0, inner, st, Style::regular(12.0), MUTED);
        y += 20.0;
    }
    p.fill(margin, y, inner, 1.0, 0xE1E6ED);
    y += 8.0;
    p.text(margin, y + 14.0, s.chat_title(), Style::bold(13.0), TEXT);
    if m.unread > 0 {
        let u = s.unread(m.unread);
        let uw = p.measure(&u, Style::bold(12.0));
        p.text(margin + inner - uw, y + 14.0, &u, Style::bold(12.0), RED);
    }
    y += 22.0;
    const SHOWN: usize = 6;
    let box_h = SHOWN as f32 * 17.0 + 10.0;
    p.boxed(margin, y, inner, box_h, 6.0, 0x00D5_DCE5, WHITE);
    let rows = chat_rows(&m.chat, SHOWN, &|l| {
        let time = l.time.get(..5).unwrap_or(&l.time);
        let line = format!("{time} {}: {}", s.chat_from(l.from_technician), l.text);
        p.wrap(&line, Style::regular(12.0), inner - 16.0)
    });
    let mut ly = y + 18.0;
    for (row, from_technician) in rows {
        let colour = if from_technician { TEXT } else { MUTED };
        p.text(margin + 8.0, ly, &row, Style::regular(12.0), colour);
        ly += 17.0;
    }
    y += box_h + 8.0;
    let sw = 70.0;
    p.boxed(margin, y, inner - sw - 8.0, 32.0, 6.0, 0x00B8_C2CE, WHITE);
    let (txt, colour) = if m.chat_input.is_empty() {
        (s.chat_placeholder().to_string(), MUTED)
    } else {
        // Show the end of a long line, with a caret.
        let chars: Vec<char> = m.chat_input.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(40)..].iter().collect();
        (format!("{tail}|"), TEXT)
    };
    p.text_fit(
        margin + 8.0,
        y + 21.0,
        inner - sw - 24.0,
        &txt,
        Style::regular(12.0),
        colour,
    );
    p.button(
        margin + inner - sw,
        y,
        sw,
        32.0,
        s.send(),
        Kind::Primary,
        ButtonId::SendChat,
        m.hover,
        !m.closing,
    );
    y + 32.0 + 16.0
}

fn receipt(p: &mut Painter<'_, '_, '_>, m: &ReceiptModel) -> f32 {
    let s = m.strings;
    let w = RECEIPT_WIDTH;
    let margin = 20.0;
    let inner = w - 2.0 * margin;
    let mut y = header(p, w, "Remoto", s.session_ended, false);
    y += 12.0;

    let reason = match &m.reason {
        EndReason::CustomerClosed => s.ended_by_customer.to_string(),
        EndReason::TechnicianClosed => s.ended_by_technician.to_string(),
        EndReason::ConnectionLost { detail } => s.connection_lost(detail),
    };
    let channel = if m.encrypted {
        s.channel_encrypted
    } else {
        s.channel_clear
    };
    let mut rows: Vec<(&str, String, u32)> = vec![
        (s.technician, m.technician.clone(), TEXT),
        (s.duration, format_elapsed(m.duration_secs), TEXT),
        (
            s.channel,
            channel.to_string(),
            if m.encrypted { GREEN } else { RED },
        ),
        (s.ended_by, reason, TEXT),
    ];
    if let Some(sum) = &m.summary {
        rows.insert(1, (s.started(), sum.started.clone(), TEXT));
        rows.push((s.control_label(), s.control_value(sum.control_secs), TEXT));
        rows.push((s.chat_label(), s.chat_count(sum.chats), TEXT));
        if sum.files.is_empty() {
            rows.push((s.files_label(), s.no_files().to_string(), TEXT));
        }
        for (i, f) in sum.files.iter().enumerate() {
            let label = if i == 0 { s.files_label() } else { "" };
            rows.push((label, f.clone(), TEXT));
        }
    }
    let label_w = rows
        .iter()
        .map(|(l, _, _)| p.measure(l, Style::regular(13.0)))
        .fold(0.0_f32, f32::max)
        + 16.0;
    for (label, value, color) in &rows {
        y += 26.0;
        p.text(margin, y, label, Style::regular(13.0), MUTED);
        p.text_fit(
            margin + label_w,
            y,
            inner - label_w,
            value,
            Style::bold(14.0),
            *color,
        );
    }
    y += 18.0;

    // The promise.
    let style = Style::regular(13.0);
    let files_saved = m.summary.as_ref().is_some_and(|x| x.saved_files > 0);
    let statement = closed_statement(s, files_saved, m.saved);
    let lines = p.wrap(statement, style, inner - 56.0);
    let box_h = (lines.len() as f32 * 19.0 + 24.0).max(52.0);
    p.boxed(margin, y, inner, box_h, 8.0, GREEN_BORDER, GREEN_BG);
    p.circle(margin + 12.0, y + (box_h - 24.0) / 2.0, 24.0, GREEN);
    p.text(
        margin + 17.5,
        y + (box_h - 24.0) / 2.0 + 17.5,
        "✓",
        Style::bold(14.0),
        WHITE,
    );
    let text_h = lines.len() as f32 * 19.0;
    let mut by = y + (box_h - text_h) / 2.0 + 14.0;
    for l in &lines {
        p.text(margin + 46.0, by, l, style, TEXT);
        by += 19.0;
    }
    y += box_h + 12.0;

    // Log note (fixed room for two lines).
    let note = if m.saving {
        Some(s.saving_log.to_string())
    } else {
        m.log_note.clone()
    };
    if let Some(n) = note {
        p.paragraph(
            margin,
            y + 12.0,
            inner,
            &n,
            Style::regular(12.0),
            17.0,
            MUTED,
            2,
        );
    }
    y += 36.0;

    p.button(
        margin,
        y,
        170.0,
        38.0,
        s.save_log,
        Kind::Secondary,
        ButtonId::SaveLog,
        m.hover,
        !m.saving && !m.saved,
    );
    p.button(
        margin + inner - 120.0,
        y,
        120.0,
        38.0,
        s.exit,
        Kind::Primary,
        ButtonId::Exit,
        m.hover,
        true,
    );
    y + 38.0 + 20.0
}

/// `text` cut from the left with "…" to fit in `width` (paths keep their end).
fn fit_tail(p: &Painter<'_, '_, '_>, text: &str, style: Style, width: f32) -> String {
    if p.measure(text, style) <= width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    for start in 1..chars.len() {
        let candidate: String = std::iter::once('…')
            .chain(chars[start..].iter().copied())
            .collect();
        if p.measure(&candidate, style) <= width {
            return candidate;
        }
    }
    "…".to_string()
}

/// The file chooser; `with_close`: the session's Close button in the header.
fn chooser(
    p: &mut Painter<'_, '_, '_>,
    m: &ChooserModel,
    s: &Strings,
    subtitle: &str,
    with_close: bool,
) -> f32 {
    let w = CHOOSER_WIDTH;
    let margin = 16.0;
    let inner = w - 2.0 * margin;
    // Header: what is being chosen, and the session's Close.
    let h = 64.0;
    p.fill(0.0, 0.0, w, h, HEADER);
    let close_w = if with_close { 70.0 } else { 0.0 };
    let text_w = w - 36.0 - close_w;
    p.text_fit(
        18.0,
        24.0,
        text_w,
        subtitle,
        Style::regular(12.0),
        HEADER_SUB,
    );
    p.text_fit(18.0, 48.0, text_w, &m.title, Style::bold(15.0), WHITE);
    if with_close {
        p.button(
            w - margin - 64.0,
            18.0,
            64.0,
            28.0,
            s.close,
            Kind::Danger,
            ButtonId::Close,
            m.hover,
            true,
        );
    }
    let mut y = h + 10.0;

    // Up and the shortcut places.
    let up_w = 52.0;
    p.button(
        margin,
        y,
        up_w,
        30.0,
        s.up(),
        Kind::Secondary,
        ButtonId::ChooserParent,
        m.hover,
        m.dir.parent().is_some(),
    );
    let n = m.shortcuts.len().max(1) as f32;
    let place_w = (inner - up_w - 6.0 * n) / n;
    for (i, (place, _)) in m.shortcuts.iter().enumerate() {
        let x = margin + up_w + 6.0 + i as f32 * (place_w + 6.0);
        let label = s.place(*place);
        let hovered = m.hover == Some(Target::Place(i));
        p.boxed(
            x,
            y,
            place_w,
            30.0,
            6.0,
            BORDER,
            if hovered { HOVER } else { CARD },
        );
        let st = Style::bold(12.0);
        let tw = p.measure(label, st).min(place_w - 8.0);
        p.text_fit(
            x + (place_w - tw) / 2.0,
            y + 20.0,
            place_w - 8.0,
            label,
            st,
            TEXT,
        );
        p.hit(x, y, place_w, 30.0, Target::Place(i));
    }
    y += 30.0 + 8.0;

    // The folder shown.
    let path = m.dir.display().to_string();
    let st = Style::bold(12.0);
    let shown = fit_tail(p, &path, st, inner);
    p.text(margin, y + 13.0, &shown, st, TEXT);
    y += 20.0;

    // The list.
    let list_h = CHOOSER_ROWS as f32 * CHOOSER_ROW_HEIGHT + 2.0;
    p.boxed(margin, y, inner, list_h, 6.0, BORDER, CARD);
    let rows = m.visible();
    if let Some(e) = &m.error {
        p.paragraph(
            margin + 12.0,
            y + 22.0,
            inner - 24.0,
            &s.chooser_error(e),
            Style::regular(12.0),
            17.0,
            RED_TEXT,
            6,
        );
    } else if rows.is_empty() {
        p.text_fit(
            margin + 12.0,
            y + 22.0,
            inner - 24.0,
            s.chooser_empty(
                !m.typed.is_empty() && !m.typed_is_path(),
                m.mode == ChooserMode::ChooseFolder,
            ),
            Style::regular(12.0),
            MUTED,
        );
    }
    let scrollbar = rows.len() > CHOOSER_ROWS;
    let row_w = inner - 2.0 - if scrollbar { 8.0 } else { 0.0 };
    for (vis, (i, e)) in rows
        .iter()
        .enumerate()
        .skip(m.scroll_top)
        .take(CHOOSER_ROWS)
        .enumerate()
    {
        let ry = y + 1.0 + vis as f32 * CHOOSER_ROW_HEIGHT;
        let rx = margin + 1.0;
        if m.selected == Some(i) {
            p.fill(rx, ry, row_w, CHOOSER_ROW_HEIGHT, SELECTED);
        } else if m.hover == Some(Target::Entry(i)) {
            p.fill(rx, ry, row_w, CHOOSER_ROW_HEIGHT, HOVER);
        }
        // Icon: a folder (tab and body) or a page.
        let (ix, iy) = (rx + 8.0, ry + 7.0);
        if e.is_dir {
            p.rounded(ix, iy, 7.0, 4.0, 1.0, 0xD9A33A);
            p.rounded(ix, iy + 2.0, 15.0, 11.0, 2.0, 0xE8B84E);
        } else {
            p.boxed(ix + 2.0, iy - 1.0, 11.0, 14.0, 1.5, 0x8A96A5, WHITE);
        }
        let size_w = if e.is_dir {
            0.0
        } else {
            let t = super::bytes(e.size);
            let st = Style::regular(11.0);
            let tw = p.measure(&t, st);
            p.text(rx + row_w - 8.0 - tw, ry + 17.0, &t, st, MUTED);
            tw + 12.0
        };
        p.text_fit(
            rx + 30.0,
            ry + 17.5,
            row_w - 38.0 - size_w,
            &e.name,
            Style::regular(13.0),
            TEXT,
        );
        p.hit(rx, ry, row_w, CHOOSER_ROW_HEIGHT, Target::Entry(i));
    }
    if scrollbar {
        let track = list_h - 4.0;
        let thumb = (track * CHOOSER_ROWS as f32 / rows.len() as f32).max(16.0);
        let top = (track - thumb) * m.scroll_top as f32 / (rows.len() - CHOOSER_ROWS).max(1) as f32;
        p.rounded(
            margin + inner - 7.0,
            y + 2.0 + top,
            4.0,
            thumb,
            2.0,
            DISABLED,
        );
    }
    y += list_h + 6.0;
    if m.truncated {
        p.text_fit(
            margin,
            y + 11.0,
            inner,
            &s.chooser_truncated(m.entries.len()),
            Style::regular(11.0),
            MUTED,
        );
        y += 16.0;
    }

    // The filter / path field.
    p.boxed(margin, y, inner, 30.0, 6.0, 0x00B8_C2CE, WHITE);
    let (txt, colour) = if m.typed.is_empty() {
        (s.chooser_placeholder().to_string(), MUTED)
    } else {
        let st = Style::regular(12.0);
        (
            fit_tail(p, &format!("{}|", m.typed), st, inner - 16.0),
            TEXT,
        )
    };
    p.text_fit(
        margin + 8.0,
        y + 20.0,
        inner - 16.0,
        &txt,
        Style::regular(12.0),
        colour,
    );
    y += 30.0 + 10.0;

    if m.confirm_replace {
        let name = m.save_name.as_deref().unwrap_or("");
        let lines = p.wrap(&s.replace_prompt(name), Style::regular(12.0), inner - 24.0);
        let box_h = lines.len().min(3) as f32 * 17.0 + 16.0 + 34.0 + 10.0;
        p.boxed(margin, y, inner, box_h, 8.0, INFO_BORDER, INFO_BG);
        let after = p.paragraph(
            margin + 12.0,
            y + 20.0,
            inner - 24.0,
            &s.replace_prompt(name),
            Style::regular(12.0),
            17.0,
            TEXT,
            3,
        );
        let by = after + 6.0;
        let bw = (inner - 24.0 - 10.0) / 2.0;
        p.button(
            margin + 12.0,
            by,
            bw,
            32.0,
            s.dont_replace(),
            Kind::Secondary,
            ButtonId::ReplaceNo,
            m.hover,
            true,
        );
        p.button(
            margin + 12.0 + bw + 10.0,
            by,
            bw,
            32.0,
            s.replace(),
            Kind::Warning,
            ButtonId::ReplaceYes,
            m.hover,
            true,
        );
        return y + box_h + 16.0;
    }
    let bw = (inner - 10.0) / 2.0;
    p.button(
        margin,
        y,
        bw,
        38.0,
        s.cancel,
        Kind::Secondary,
        ButtonId::ChooserCancel,
        m.hover,
        true,
    );
    let label = if m.mode == ChooserMode::OpenFile
        && m.selected_entry().is_some_and(|e| e.is_dir)
        && !m.typed_is_path()
    {
        s.open()
    } else {
        m.choose_label.as_str()
    };
    p.button(
        margin + bw + 10.0,
        y,
        bw,
        38.0,
        label,
        Kind::Primary,
        ButtonId::ChooserChoose,
        m.hover,
        m.can_choose(),
    );
    y + 38.0 + 16.0
}

/// The receipt's final promise: what Remoto wrote is only what the
/// customer chose to save (files the technician sent, the log).
fn closed_statement(s: &Strings, files_saved: bool, log_saved: bool) -> &'static str {
    match (files_saved, log_saved) {
        (false, false) => s.closed_statement,
        (false, true) => s.closed_statement_saved,
        (true, false) => s.closed_statement_files,
        (true, true) => s.closed_statement_files_saved,
    }
}

/// The last `shown` rows of the chat box: the newest messages, each wrapped
/// by `wrap` into rows, with whether the technician wrote it (its colour).
fn chat_rows(
    chat: &[ChatLine],
    shown: usize,
    wrap: &dyn Fn(&ChatLine) -> Vec<String>,
) -> Vec<(String, bool)> {
    let mut rows: Vec<(String, bool)> = Vec::new();
    for l in chat.iter().rev() {
        if rows.len() >= shown {
            break;
        }
        let wrapped = wrap(l).into_iter().map(|w| (w, l.from_technician));
        rows.splice(0..0, wrapped);
    }
    rows.split_off(rows.len().saturating_sub(shown))
}

/// Renders `model` at scale 1 into a new buffer; for tests and snapshots.
pub fn render_to_vec(
    renderer: &mut Renderer,
    model: &UiModel,
    scale: f32,
) -> (Vec<u32>, u32, u32, Vec<Hit>) {
    let (w, h) = renderer.size(model, scale);
    let mut buf = vec![0u32; w as usize * h as usize];
    let hits = renderer.render(model, scale, &mut buf, w, h);
    (buf, w, h, hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(from_technician: bool, text: &str) -> ChatLine {
        ChatLine {
            from_technician,
            time: "10:00:00".into(),
            text: text.into(),
        }
    }

    /// Splits on spaces: one word per row.
    fn words(l: &ChatLine) -> Vec<String> {
        l.text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_closing_promise_names_what_was_written() {
        let s = Strings::get(crate::ui::Language::En);
        assert!(closed_statement(s, false, false).contains("nothing was installed or written"));
        assert!(closed_statement(s, false, true).contains("the log you saved"));
        let files = closed_statement(s, true, false);
        assert!(files.contains("you chose to save") && !files.contains("or written"));
        assert!(closed_statement(s, true, true).ends_with("and the log."));
    }

    #[test]
    fn chat_rows_wrap_and_keep_the_newest() {
        let chat = [
            line(true, "old message"),
            line(false, "a b c"),
            line(true, "x y"),
        ];
        let rows = chat_rows(&chat, 4, &words);
        let text: Vec<&str> = rows.iter().map(|(r, _)| r.as_str()).collect();
        // The newest message whole, the one before it cut at the top.
        assert_eq!(text, ["b", "c", "x", "y"]);
        assert_eq!(
            rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            [false, false, true, true]
        );
        assert_eq!(chat_rows(&chat, 20, &words).len(), 7);
        assert!(chat_rows(&[], 6, &words).is_empty());
    }
}
