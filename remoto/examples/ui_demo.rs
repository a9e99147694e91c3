//! Shows the customer windows with a sample technician list and a fake
//! session, printing every `UiAction` as one line on stdout
//! (`action: Connect { technician_index: 0, session_code: None }`).
//!
//! ```sh
//! cargo run -p remoto --example ui_demo -- [--lang it|en]
//! ```
//!
//! The fake session: "Viola" always fails (connection refused), the others
//! connect after half a second; "Allow control" is echoed back; Close ends
//! the session and shows the receipt; "Save log" pretends to save (nothing
//! is written).

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use remoto::ui::{EndReason, Language, PickerData, SessionUpdate, Ui, UiAction};

fn main() {
    let mut language = Language::It;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lang" => language = Language::from_code(&args.next().unwrap_or_default()),
            other => {
                eprintln!("ui_demo: unknown argument {other:?} (use --lang it|en)");
                std::process::exit(2);
            }
        }
    }
    let data = PickerData::sample(language);
    let ui = match Ui::new(data.clone()) {
        Ok(ui) => ui,
        Err(e) => {
            eprintln!("ui_demo: {e}");
            std::process::exit(1);
        }
    };
    let updates = ui.updates();
    let (tx, rx) = mpsc::channel::<UiAction>();

    // The fake session.
    std::thread::spawn(move || {
        let mut in_session = false;
        for action in rx {
            match action {
                UiAction::Connect {
                    technician_index, ..
                } => {
                    let Some(t) = data.technicians.get(technician_index) else {
                        continue;
                    };
                    let host = format!("{}.example.net:5500", t.id.to_lowercase());
                    updates.send(SessionUpdate::Connecting {
                        endpoint: host.clone(),
                    });
                    std::thread::sleep(Duration::from_millis(500));
                    if t.id == "Viola" {
                        let detail = match language {
                            Language::It => format!("connessione rifiutata su {host}"),
                            Language::En => format!("connection refused at {host}"),
                        };
                        updates.send(SessionUpdate::Failed { detail });
                    } else {
                        in_session = true;
                        updates.send(SessionUpdate::Connected {
                            technician: t.id.clone(),
                            sas: t.encrypted.then(|| "123456".to_string()),
                            encrypted: t.encrypted,
                            control: false,
                        });
                    }
                }
                UiAction::AllowControl(on) => {
                    updates.send(SessionUpdate::ControlChanged(on));
                }
                UiAction::Close if in_session => {
                    in_session = false;
                    std::thread::sleep(Duration::from_millis(200));
                    updates.send(SessionUpdate::Ended {
                        reason: EndReason::CustomerClosed,
                    });
                }
                UiAction::Close => {}
                UiAction::SaveLog(_) => {
                    updates.send(SessionUpdate::LogSaved {
                        path: "(demo: nothing written)".into(),
                    });
                }
                // Chat, pause and file answers need a real session; the
                // demo only prints them (see the `action:` lines).
                UiAction::SendChat(_)
                | UiAction::PauseSharing(_)
                | UiAction::AcceptFile { .. }
                | UiAction::SendFile(_)
                | UiAction::RefuseFile(_) => {}
            }
        }
    });

    let result = ui.run(move |action| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "action: {action:?}");
        let _ = out.flush();
        let _ = tx.send(action);
    });
    if let Err(e) = result {
        eprintln!("ui_demo: {e}");
        std::process::exit(1);
    }
}
