//! Renders the session panel with chat, a file offer and the privacy
//! button, and the end-of-session summary, into pixel buffers (no display
//! needed); checks that the new click targets are drawn and react, and
//! writes `<target>/test-artifacts/ui/render-features-*.png` to look at.

mod common;
use common::{artifacts, png};

use std::path::PathBuf;

use remoto::ui::render::{Renderer, find_target, hit_test, render_to_vec};
use remoto::ui::{
    ButtonId, ChatLine, DirEntry, EndReason, Key, Language, Listing, PickerData, Screen,
    SessionUpdate, SummaryInfo, Target, UiAction, UiInput, UiModel,
};

#[allow(clippy::disallowed_methods)] // test snapshots, not the customer program
fn snapshot(name: &str, buf: &[u32], w: u32, h: u32) -> PathBuf {
    let path = artifacts().join(format!("render-features-{name}.png"));
    std::fs::write(&path, png(buf, w, h)).expect("write snapshot");
    path
}

fn session(lang: Language) -> UiModel {
    let mut m = UiModel::new(PickerData::sample(lang));
    m.handle(UiInput::Key(Key::Enter));
    m.update(
        SessionUpdate::Connected {
            technician: "Verde".into(),
            sas: Some("482 913".into()),
            encrypted: true,
            control: false,
        },
        0,
    );
    let lines = [
        (
            false,
            "10:02:11",
            "Buongiorno, la stampante non stampa più.",
        ),
        (
            true,
            "10:02:30",
            "Buongiorno! Guardo subito la coda di stampa.",
        ),
        (true, "10:03:05", "Le mando il driver aggiornato."),
    ];
    for (tech, time, text) in lines {
        m.update(
            SessionUpdate::Chat(ChatLine {
                from_technician: tech,
                time: time.into(),
                text: text.into(),
            }),
            1000,
        );
    }
    m.update(
        SessionUpdate::FileOffered {
            id: 1,
            name: "driver-hp.zip".into(),
            size: 4_200_000,
        },
        2000,
    );
    for c in "Grazie".chars() {
        m.handle(UiInput::Key(Key::Char(c)));
    }
    m.update(SessionUpdate::ControlChanged(false), 3000);
    m
}

#[test]
fn panel_with_chat_offer_and_privacy() {
    for lang in [Language::It, Language::En] {
        let mut m = session(lang);
        // Typing marks the technician's lines as read; a new one is unread.
        m.update(
            SessionUpdate::Chat(ChatLine {
                from_technician: true,
                time: "10:03:40".into(),
                text: "Mi dica quando è pronto.".into(),
            }),
            4000,
        );
        let Screen::Panel(p) = &m.screen else {
            panic!("panel")
        };
        assert_eq!(p.unread, 1);
        let mut r = Renderer::new().expect("fonts");
        let (buf, w, h, hits) = render_to_vec(&mut r, &m, 1.0);
        for b in [
            ButtonId::SendChat,
            ButtonId::TogglePause,
            ButtonId::AcceptFile,
            ButtonId::RefuseFile,
            ButtonId::SendFile,
        ] {
            let rect =
                find_target(&hits, Target::Button(b)).unwrap_or_else(|| panic!("{b:?} not drawn"));
            assert_eq!(
                hit_test(
                    &hits,
                    rect.x + rect.w as i32 / 2,
                    rect.y + rect.h as i32 / 2
                ),
                Some(Target::Button(b))
            );
        }
        let path = snapshot(&format!("panel-chat-{lang:?}").to_lowercase(), &buf, w, h);
        assert!(path.is_file());
        // The buttons do what they say.
        let press = |b| UiInput::Press {
            target: Some(Target::Button(b)),
            time_ms: 5000,
        };
        assert_eq!(
            m.handle(press(ButtonId::SendChat)),
            Some(UiAction::SendChat("Grazie".into()))
        );
        // Accept opens the folder chooser first (nothing is written yet).
        assert_eq!(m.handle(press(ButtonId::AcceptFile)), None);
        assert!(m.chooser().is_some());
        let dir = m.take_listing_request().expect("a folder to list");
        let listing = Listing::Dir(vec![
            DirEntry {
                name: "Lavoro".into(),
                is_dir: true,
                size: 0,
            },
            DirEntry {
                name: "driver-hp.zip".into(),
                is_dir: false,
                size: 4_200_000,
            },
        ]);
        assert_eq!(m.set_listing(dir, listing), None);
        let (cb, cw, ch, chits) = render_to_vec(&mut r, &m, 1.0);
        for b in [
            ButtonId::ChooserChoose,
            ButtonId::ChooserCancel,
            ButtonId::Close,
        ] {
            assert!(find_target(&chits, Target::Button(b)).is_some(), "{b:?}");
        }
        assert!(find_target(&chits, Target::Entry(0)).is_some());
        snapshot(&format!("chooser-{lang:?}").to_lowercase(), &cb, cw, ch);
        // Cancel: back to the panel, the offer still waits.
        assert_eq!(m.handle(UiInput::Key(Key::Escape)), None);
        assert!(m.chooser().is_none());
        assert_eq!(
            m.handle(press(ButtonId::RefuseFile)),
            Some(UiAction::RefuseFile(1))
        );
        assert_eq!(
            m.handle(press(ButtonId::TogglePause)),
            Some(UiAction::PauseSharing(true))
        );
        let (buf2, w2, h2, hits2) = render_to_vec(&mut r, &m, 1.0);
        assert!(find_target(&hits2, Target::Button(ButtonId::AcceptFile)).is_none());
        snapshot(
            &format!("panel-paused-{lang:?}").to_lowercase(),
            &buf2,
            w2,
            h2,
        );
    }
}

#[test]
fn summary_screen() {
    for lang in [Language::It, Language::En] {
        let mut m = session(lang);
        m.update(
            SessionUpdate::Summary(SummaryInfo {
                started: "2026-11-23 10:01:58 UTC".into(),
                control_secs: Some(312),
                chats: 4,
                files: vec![
                    "↓ driver-hp.zip (4.2 MB): done: saved as /home/anna/Downloads/driver-hp.zip"
                        .into(),
                    "↑ errore.png (180.3 KB): done".into(),
                ],
                saved_files: 1,
            }),
            600_000,
        );
        m.update(
            SessionUpdate::Ended {
                reason: EndReason::TechnicianClosed,
            },
            601_000,
        );
        let Screen::Receipt(rc) = &m.screen else {
            panic!("receipt")
        };
        assert!(rc.summary.is_some());
        let mut r = Renderer::new().expect("fonts");
        let (buf, w, h, hits) = render_to_vec(&mut r, &m, 1.0);
        assert!(find_target(&hits, Target::Button(ButtonId::SaveLog)).is_some());
        // Taller than a receipt without the summary.
        let mut plain = session(lang);
        plain.update(
            SessionUpdate::Ended {
                reason: EndReason::TechnicianClosed,
            },
            601_000,
        );
        let (_, _, plain_h, _) = render_to_vec(&mut r, &plain, 1.0);
        assert!(h > plain_h, "summary rows add height: {h} vs {plain_h}");
        snapshot(&format!("summary-{lang:?}").to_lowercase(), &buf, w, h);
        // Save log asks where first.
        assert_eq!(
            m.handle(UiInput::Press {
                target: Some(Target::Button(ButtonId::SaveLog)),
                time_ms: 602_000,
            }),
            None
        );
        assert!(m.chooser().is_some());
    }
}
