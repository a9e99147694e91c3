//! The windowed program: the picker and panel of [`crate::ui`] on the main
//! thread, the session of [`crate::app`] on a tokio runtime beside it.

use crate::app::{self, AppEvent, SessionRequest};
use crate::features::UserCommand;
use crate::platform::{Platform, PlatformError};
use crate::session::EndReason as EngineEnd;
use crate::ui::{
    self, EndReason, Language, PickerData, SessionUpdate, TechnicianEntry, Ui, UiAction,
    UpdateSender,
};
use profiles::LoadedProfile;
use profiles::model::SessionCodePolicy;
use std::sync::mpsc as std_mpsc;
use tokio::sync::{oneshot, watch};

/// Why the window could not run.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The window system failed.
    #[error(transparent)]
    Ui(#[from] ui::UiError),
    /// The async runtime could not start.
    #[error("cannot start: {0}")]
    Runtime(#[from] std::io::Error),
}

/// What the picker shows, from the profile.
pub fn picker_data(loaded: &LoadedProfile) -> PickerData {
    let p = &loaded.profile;
    PickerData {
        brand_name: p.brand.name.clone(),
        title: p.brand.title.clone(),
        message: p.brand.message.clone(),
        phones: p.brand.phones.clone(),
        language: Language::from_code(p.brand.language.code()),
        technicians: p
            .technicians
            .iter()
            .map(|t| TechnicianEntry {
                id: t.id.clone(),
                label: t.label.clone(),
                encrypted: t.is_crypto(),
                needs_code: t.session_code == SessionCodePolicy::Required,
            })
            .collect(),
    }
}

fn open_platform() -> Result<Platform, PlatformError> {
    crate::platform::open(None)
}

/// Shows the picker and runs sessions until the customer closes Remoto.
pub fn run(loaded: LoadedProfile) -> Result<(), GuiError> {
    let ui = Ui::new(picker_data(&loaded))?;
    let updates = ui.updates();
    let (action_tx, action_rx) = std_mpsc::channel::<UiAction>();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    let tray_actions = action_tx.clone();
    std::thread::Builder::new()
        .name("session".into())
        .spawn(move || session_thread(loaded, action_rx, updates, handle, tray_actions))?;
    let result = ui.run(move |action| {
        let _ = action_tx.send(action);
    });
    rt.shutdown_background();
    // A session still running when the window closed leaves no ghost icon.
    #[cfg(windows)]
    crate::platform::windows::tray::remove_all();
    Ok(result?)
}

/// Turns UI actions into sessions; one session at a time.
fn session_thread(
    loaded: LoadedProfile,
    actions: std_mpsc::Receiver<UiAction>,
    updates: UpdateSender,
    rt: tokio::runtime::Handle,
    tray_actions: std_mpsc::Sender<UiAction>,
) {
    let profile = &loaded.profile;
    let mut control_tx: Option<watch::Sender<bool>> = None;
    let mut close_tx: Option<oneshot::Sender<()>> = None;
    let mut cmd_tx: Option<tokio::sync::mpsc::UnboundedSender<UserCommand>> = None;
    let (done_tx, done_rx) = std_mpsc::channel::<()>();
    let last_log: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>> = Default::default();
    loop {
        // A finished session frees the slot.
        if done_rx.try_recv().is_ok() {
            control_tx = None;
            close_tx = None;
            cmd_tx = None;
        }
        let action = match actions.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(a) => a,
            Err(std_mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match action {
            UiAction::Connect {
                technician_index,
                session_code,
            } => {
                if close_tx.is_some() {
                    continue;
                }
                let Some(tech) = profile.technicians.get(technician_index).cloned() else {
                    continue;
                };
                let (screen, input) = match open_platform() {
                    Ok(p) => p,
                    Err(e) => {
                        updates.send(SessionUpdate::Failed {
                            detail: format!("cannot access the screen: {e}"),
                        });
                        continue;
                    }
                };
                let (ctx, crx) = watch::channel(app::initial_control(profile));
                let (cltx, clrx) = oneshot::channel();
                control_tx = Some(ctx);
                close_tx = Some(cltx);
                let profile = profile.clone();
                let updates = updates.clone();
                let done = done_tx.clone();
                let tray_actions = tray_actions.clone();
                let last_log = last_log.clone();
                let (ctx_cmd, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
                cmd_tx = Some(ctx_cmd);
                rt.spawn(async move {
                    let tech_id = tech.id.clone();
                    let sas = std::sync::Mutex::new(None::<String>);
                    let ev = |e: AppEvent| match e {
                        AppEvent::Trying(eps) => {
                            updates.send(SessionUpdate::Connecting {
                                endpoint: eps.join(", "),
                            });
                        }
                        AppEvent::Reached(_) | AppEvent::WaitingForTechnician => {}
                        AppEvent::Secured { sas: s } => {
                            *sas.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
                        }
                        AppEvent::Sharing { encrypted, control } => {
                            updates.send(SessionUpdate::Connected {
                                technician: tech_id.clone(),
                                sas: sas.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                                encrypted,
                                control,
                            });
                        }
                        AppEvent::ControlChanged(on) => {
                            updates.send(SessionUpdate::ControlChanged(on));
                        }
                        AppEvent::Chat {
                            from_technician,
                            text,
                            time,
                        } => {
                            updates.send(SessionUpdate::Chat(ui::ChatLine {
                                from_technician,
                                time,
                                text,
                            }));
                        }
                        AppEvent::FileOffered { id, name, size } => {
                            updates.send(SessionUpdate::FileOffered { id, name, size });
                        }
                        AppEvent::FileProgress { id, done, size, .. } => {
                            let pct = (done * 100).checked_div(size).unwrap_or(100);
                            updates.send(SessionUpdate::FileStatus {
                                id,
                                text: format!("file {id}: {pct}%"),
                            });
                        }
                        AppEvent::FileFinished {
                            id, name, outcome, ..
                        } => {
                            updates.send(SessionUpdate::FileStatus {
                                id,
                                text: format!("{name}: {outcome}"),
                            });
                        }
                        AppEvent::SharingChanged(state) => {
                            updates.send(SessionUpdate::SharingPaused(state == "paused"));
                        }
                        AppEvent::Notice(text) => {
                            updates.send(SessionUpdate::FileStatus { id: 0, text });
                        }
                    };
                    let mut geometry = crate::privacy::open_geometry(None, screen.size());
                    let hello = crate::sysinfo::customer_hello(
                        &profile,
                        screen.size(),
                        &geometry.monitors(),
                    );
                    let req = SessionRequest {
                        profile: &profile,
                        technician: &tech,
                        session_code,
                        screen,
                        input,
                        control: crx,
                        close: clrx,
                        hello,
                        commands: cmd_rx,
                        privacy: crate::privacy::Privacy::new(),
                        geometry,
                    };
                    // The tray icon (where the desktop has a tray) lives as
                    // long as the attempt and the session.
                    #[cfg(unix)]
                    let _tray = crate::tray::for_session(&tech.id, tray_actions);
                    #[cfg(windows)]
                    let _tray = crate::platform::windows::tray::for_session(&tech.id, tray_actions);
                    match app::run_session(req, &ev).await {
                        Ok(receipt) => {
                            *last_log.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(receipt.summary.log.clone());
                            updates.send(SessionUpdate::Summary(summary_info(&receipt.summary)));
                            let reason = match receipt.end {
                                EngineEnd::CustomerClosed => EndReason::CustomerClosed,
                                EngineEnd::ViewerClosed => EndReason::TechnicianClosed,
                            };
                            updates.send(SessionUpdate::Ended { reason });
                        }
                        Err(e @ app::AppError::Refused { .. }) => {
                            updates.send(SessionUpdate::Refused {
                                reason: Some(e.to_string()),
                            });
                        }
                        Err(e @ (app::AppError::Session(_) | app::AppError::Channel(_))) => {
                            updates.send(SessionUpdate::Ended {
                                reason: EndReason::ConnectionLost {
                                    detail: e.to_string(),
                                },
                            });
                        }
                        Err(e) => {
                            let mut detail = e.to_string();
                            if !profile.brand.phones.is_empty() {
                                detail.push_str(&format!(
                                    ". Call {}",
                                    profile.brand.phones.join(" / ")
                                ));
                            }
                            updates.send(SessionUpdate::Failed { detail });
                        }
                    }
                    let _ = done.send(());
                });
            }
            UiAction::AllowControl(on) => {
                if let Some(tx) = &control_tx
                    && (!on || app::control_allowed_by_policy(profile))
                {
                    let _ = tx.send(on);
                }
            }
            UiAction::Close => {
                if let Some(tx) = close_tx.take() {
                    let _ = tx.send(());
                }
            }
            UiAction::SendChat(text) => send_cmd(&cmd_tx, UserCommand::Chat(text)),
            UiAction::PauseSharing(on) => send_cmd(
                &cmd_tx,
                UserCommand::Share(if on {
                    crate::privacy::ShareMode::Paused
                } else {
                    crate::privacy::ShareMode::All
                }),
            ),
            // The folder comes from the panel's chooser; an existing file is
            // replaced only when the customer said so there.
            UiAction::AcceptFile { id, dir, overwrite } => send_cmd(
                &cmd_tx,
                UserCommand::AcceptFile {
                    id,
                    path: dir,
                    overwrite,
                },
            ),
            UiAction::SendFile(path) => send_cmd(&cmd_tx, UserCommand::SendFile(path)),
            UiAction::RefuseFile(id) => send_cmd(&cmd_tx, UserCommand::RefuseFile(id)),
            UiAction::SaveLog(dir) => {
                let log = last_log.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match log {
                    Some(log) => {
                        let path = dir.join(log_file_name());
                        let update = match crate::customer_log::save_log(&path, &log, false) {
                            Ok(()) => SessionUpdate::LogSaved {
                                path: path.display().to_string(),
                            },
                            Err(e) => SessionUpdate::LogSaveFailed {
                                detail: format!("{}: {e}", path.display()),
                            },
                        };
                        updates.send(update);
                    }
                    None => {
                        updates.send(SessionUpdate::LogSaveFailed {
                            detail: "no session log to save".into(),
                        });
                    }
                }
            }
        }
    }
}

/// The name "Save log" gives the log in the folder the customer chose:
/// named after the time; an existing file is never replaced.
fn log_file_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("remoto-session-{secs}.jsonl")
}

fn send_cmd(tx: &Option<tokio::sync::mpsc::UnboundedSender<UserCommand>>, cmd: UserCommand) {
    if let Some(tx) = tx {
        let _ = tx.send(cmd);
    }
}

/// The receipt's extra rows from the session summary.
fn summary_info(s: &crate::customer_log::Summary) -> ui::SummaryInfo {
    ui::SummaryInfo {
        started: s
            .started_at
            .get(..19)
            .map(|t| format!("{} UTC", t.replace('T', " ")))
            .unwrap_or_default(),
        control_secs: s.control_granted.then_some(s.control_time.as_secs()),
        chats: s.chats,
        files: s
            .files
            .iter()
            .map(|f| {
                format!(
                    "{} {} ({}): {}",
                    if f.to_customer { "↓" } else { "↑" },
                    f.name,
                    crate::ui::bytes(f.size),
                    f.outcome
                )
            })
            .collect(),
        saved_files: s
            .files
            .iter()
            .filter(|f| f.to_customer && f.outcome.starts_with("done"))
            .count(),
    }
}
