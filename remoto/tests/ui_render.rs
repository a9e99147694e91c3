//! Renders every screen into a pixel buffer (no display needed), checks the
//! colours and click targets, and writes PNG snapshots to
//! `<target>/test-artifacts/ui/render-*.png` for people to look at.

mod common;
use common::{artifacts, png};

use remoto::ui::render::{Hit, Renderer, color, find_target, hit_test, render_to_vec};
use remoto::ui::{
    ButtonId, EndReason, Key, Language, PickerData, Screen, SessionUpdate, Target, UiAction,
    UiInput, UiModel,
};

struct Frame {
    buf: Vec<u32>,
    w: u32,
    h: u32,
    hits: Vec<Hit>,
}

impl Frame {
    fn of(model: &UiModel, scale: f32) -> Self {
        let mut r = Renderer::new().expect("fonts");
        let (buf, w, h, hits) = render_to_vec(&mut r, model, scale);
        Self { buf, w, h, hits }
    }

    /// How many pixels inside `target`'s rectangle have exactly `color`.
    fn count_in(&self, target: Target, color: u32) -> usize {
        let r = find_target(&self.hits, target).expect("target drawn");
        let mut n = 0;
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                if self.buf[(y as u32 * self.w + x as u32) as usize] == color {
                    n += 1;
                }
            }
        }
        n
    }

    fn count(&self, color: u32) -> usize {
        self.buf.iter().filter(|&&p| p == color).count()
    }
}

#[allow(clippy::disallowed_methods)] // test snapshots, not the customer program
fn snapshot(name: &str, f: &Frame) {
    let path = artifacts().join(format!("render-{name}.png"));
    std::fs::write(&path, png(&f.buf, f.w, f.h)).expect("write snapshot");
}

fn press(target: Target) -> UiInput {
    UiInput::Press {
        target: Some(target),
        time_ms: 0,
    }
}

fn connected(lang: Language, encrypted: bool) -> UiModel {
    let mut m = UiModel::new(PickerData::sample(lang));
    m.handle(UiInput::Key(Key::Enter));
    m.update(
        SessionUpdate::Connected {
            technician: if encrypted { "Verde" } else { "CQ" }.into(),
            sas: encrypted.then(|| "123456".into()),
            encrypted,
            control: false,
        },
        1_000,
    );
    m.handle(UiInput::Tick { time_ms: 208_400 });
    m
}

#[test]
fn picker_marks_chiaro_rows_with_the_warning_colour() {
    let model = UiModel::new(PickerData::sample(Language::It));
    let f = Frame::of(&model, 1.0);
    snapshot("picker-it", &f);
    // Rows 0..3 are Crypto (green badge), row 3 is Chiaro (orange badge and
    // red "(non cifrato)").
    for row in 0..3 {
        assert!(f.count_in(Target::Row(row), color::GREEN) > 20, "row {row}");
        assert_eq!(f.count_in(Target::Row(row), color::CLEAR), 0, "row {row}");
        assert_eq!(f.count_in(Target::Row(row), color::RED), 0, "row {row}");
    }
    assert!(f.count_in(Target::Row(3), color::CLEAR) > 20);
    assert!(f.count_in(Target::Row(3), color::RED) > 10);
    assert_eq!(f.count_in(Target::Row(3), color::GREEN), 0);
    // The first row starts selected.
    assert!(f.count_in(Target::Row(0), color::SELECTED) > 1000);
    assert_eq!(f.count_in(Target::Row(1), color::SELECTED), 0);
    // Header band and phone footer are there.
    assert_eq!(f.buf[5 * f.w as usize + 5], color::HEADER);
    assert_eq!(f.buf[(f.h as usize - 3) * f.w as usize + 3], color::FOOTER);
    // Rows are stacked, one hit each, and the Connect button is clickable.
    let r0 = find_target(&f.hits, Target::Row(0)).expect("row 0");
    let r1 = find_target(&f.hits, Target::Row(1)).expect("row 1");
    assert!(r1.y >= r0.y + r0.h);
    let (cx, cy) = r1.center();
    assert_eq!(hit_test(&f.hits, cx, cy), Some(Target::Row(1)));
    assert!(find_target(&f.hits, Target::Button(ButtonId::Connect)).is_some());
}

#[test]
fn double_click_on_a_rendered_row_connects() {
    let mut model = UiModel::new(PickerData::sample(Language::En));
    let f = Frame::of(&model, 1.0);
    snapshot("picker-en", &f);
    let (x, y) = find_target(&f.hits, Target::Row(2)).expect("row").center();
    let target = hit_test(&f.hits, x, y);
    assert_eq!(
        model.handle(UiInput::Press {
            target,
            time_ms: 10
        }),
        None
    );
    assert_eq!(
        model.handle(UiInput::Press {
            target,
            time_ms: 250
        }),
        Some(UiAction::Connect {
            technician_index: 2,
            session_code: None
        })
    );
    model.update(
        SessionUpdate::Connecting {
            endpoint: "viola.example.net:5500".into(),
        },
        300,
    );
    let f = Frame::of(&model, 1.0);
    snapshot("picker-connecting", &f);
    // While connecting, rows and Connect are not clickable.
    assert!(find_target(&f.hits, Target::Row(0)).is_none());
    assert!(find_target(&f.hits, Target::Button(ButtonId::Connect)).is_none());
    assert!(f.count(color::INFO_BG) > 1000);

    model.update(
        SessionUpdate::Failed {
            detail: "connection refused at viola.example.net:5500".into(),
        },
        400,
    );
    let f = Frame::of(&model, 1.0);
    snapshot("picker-failed", &f);
    assert!(f.count(color::RED_BG) > 1000);
    assert!(find_target(&f.hits, Target::Row(0)).is_some());
}

#[test]
fn code_prompt_is_drawn_with_its_buttons() {
    let mut model = UiModel::new(PickerData::sample(Language::It));
    model.handle(UiInput::Key(Key::Down));
    model.handle(UiInput::Key(Key::Enter));
    let f = Frame::of(&model, 1.0);
    assert!(find_target(&f.hits, Target::CodeField).is_some());
    assert!(find_target(&f.hits, Target::Button(ButtonId::CodeOk)).is_none());
    for c in "482913".chars() {
        model.handle(UiInput::Key(Key::Char(c)));
    }
    let f = Frame::of(&model, 1.0);
    snapshot("picker-code", &f);
    let ok = find_target(&f.hits, Target::Button(ButtonId::CodeOk)).expect("ok enabled");
    let (x, y) = ok.center();
    assert_eq!(
        model.handle(UiInput::Press {
            target: hit_test(&f.hits, x, y),
            time_ms: 0
        }),
        Some(UiAction::Connect {
            technician_index: 1,
            session_code: Some("482913".into())
        })
    );
}

#[test]
fn panel_shows_sas_or_red_warning() {
    let crypto = connected(Language::It, true);
    let f = Frame::of(&crypto, 1.0);
    snapshot("panel-crypto", &f);
    assert!(f.count(color::GREEN_BG) > 2000);
    assert!(f.count(color::RED) < 8000); // only the Close button
    assert!(find_target(&f.hits, Target::Button(ButtonId::Close)).is_some());
    assert!(find_target(&f.hits, Target::Button(ButtonId::ToggleControl)).is_some());

    let mut clear = connected(Language::En, false);
    let f = Frame::of(&clear, 1.0);
    snapshot("panel-clear", &f);
    assert!(f.count(color::RED) > 20_000, "big red NOT ENCRYPTED box");
    assert_eq!(f.count(color::GREEN_BG), 0);

    // Control on: the toggle turns into the warning colour.
    clear.handle(press(Target::Button(ButtonId::ToggleControl)));
    let f = Frame::of(&clear, 1.0);
    snapshot("panel-control", &f);
    assert!(f.count_in(Target::Button(ButtonId::ToggleControl), color::CLEAR) > 1000);
}

#[test]
fn receipt_and_hidpi() {
    let mut m = connected(Language::It, true);
    m.handle(UiInput::CloseRequested);
    m.update(
        SessionUpdate::Ended {
            reason: EndReason::CustomerClosed,
        },
        755_000,
    );
    assert!(matches!(m.screen, Screen::Receipt(_)));
    let f = Frame::of(&m, 1.0);
    snapshot("receipt", &f);
    assert!(f.count(color::GREEN_BG) > 2000);
    assert!(find_target(&f.hits, Target::Button(ButtonId::SaveLog)).is_some());
    // Save log opens a folder chooser; choosing the folder shown saves.
    assert_eq!(m.handle(press(Target::Button(ButtonId::SaveLog))), None);
    let dir = m.take_listing_request().expect("a folder to list");
    assert_eq!(
        m.set_listing(dir.clone(), remoto::ui::Listing::Dir(Vec::new())),
        None
    );
    assert_eq!(
        m.handle(press(Target::Button(ButtonId::ChooserChoose))),
        Some(UiAction::SaveLog(dir))
    );
    let f = Frame::of(&m, 1.0);
    assert!(find_target(&f.hits, Target::Button(ButtonId::SaveLog)).is_none());
    m.update(
        SessionUpdate::LogSaved {
            path: "/home/anna/Documenti/remoto-2026-11-23.log".into(),
        },
        756_000,
    );
    let f = Frame::of(&m, 1.0);
    snapshot("receipt-saved", &f);
    assert!(find_target(&f.hits, Target::Button(ButtonId::SaveLog)).is_none());
    assert!(find_target(&f.hits, Target::Button(ButtonId::Exit)).is_some());

    // Scale 2 doubles every dimension and hit rectangle.
    let picker = UiModel::new(PickerData::sample(Language::It));
    let one = Frame::of(&picker, 1.0);
    let two = Frame::of(&picker, 2.0);
    snapshot("picker-x2", &two);
    assert!((two.w as i32 - 2 * one.w as i32).abs() <= 1);
    assert!((two.h as i32 - 2 * one.h as i32).abs() <= 2);
    let r1 = find_target(&one.hits, Target::Row(1)).expect("row");
    let r2 = find_target(&two.hits, Target::Row(1)).expect("row");
    assert!((r2.y - 2 * r1.y).abs() <= 2 && (r2.h - 2 * r1.h).abs() <= 2);
}

#[test]
fn hostile_profile_texts_do_not_break_layout() {
    let mut data = PickerData::sample(Language::En);
    data.brand_name = "B".repeat(300);
    data.message = "word ".repeat(500) + &"x".repeat(400);
    data.phones = (0..30).map(|i| format!("+39 0{i} 1234567")).collect();
    for t in &mut data.technicians {
        t.id = "\u{1F600}\u{0}\t".repeat(50);
        t.label = Some("é".repeat(200));
    }
    data.technicians.extend(data.technicians.clone());
    data.technicians.extend(data.technicians.clone());
    let f = Frame::of(&UiModel::new(data.clone()), 1.0);
    assert!(f.h < 1200, "height {}", f.h);
    data.technicians.clear();
    let f = Frame::of(&UiModel::new(data), 1.0);
    assert!(find_target(&f.hits, Target::Button(ButtonId::Connect)).is_none());
    // Odd scales and tiny buffers are survived.
    let mut r = Renderer::new().expect("fonts");
    let m = UiModel::new(PickerData::sample(Language::It));
    for scale in [0.0, -1.0, f32::NAN, 0.3, 3.0] {
        let _ = render_to_vec(&mut r, &m, scale);
    }
    let mut tiny = vec![0u32; 3];
    let _ = r.render(&m, 1.0, &mut tiny, 100, 100);
}
