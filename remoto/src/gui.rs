//! The windowed program: the picker and panel of [`crate::ui`] on the main
//! thread, the session of [`crate::app`] on a tokio runtime beside it.

use crate::app::{self, AppEvent, SessionRequest};
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
    let screen = crate::platform::x11::X11Screen::open(None)?;
    let input = crate::platform::x11::X11Input::open(None)?;
    Ok((Box::new(screen), Box::new(input)))
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
    std::thread::Builder::new()
        .name("session".into())
        .spawn(move || session_thread(loaded, action_rx, updates, handle))?;
    let result = ui.run(move |action| {
        let _ = action_tx.send(action);
    });
    rt.shutdown_background();
    Ok(result?)
}

/// Turns UI actions into sessions; one session at a time.
fn session_thread(
    loaded: LoadedProfile,
    actions: std_mpsc::Receiver<UiAction>,
    updates: UpdateSender,
    rt: tokio::runtime::Handle,
) {
    let profile = &loaded.profile;
    let mut control_tx: Option<watch::Sender<bool>> = None;
    let mut close_tx: Option<oneshot::Sender<()>> = None;
    let (done_tx, done_rx) = std_mpsc::channel::<()>();
    loop {
        // A finished session frees the slot.
        if done_rx.try_recv().is_ok() {
            control_tx = None;
            close_tx = None;
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
                    };
                    let req = SessionRequest {
                        profile: &profile,
                        technician: &tech,
                        session_code,
                        screen,
                        input,
                        control: crx,
                        close: clrx,
                    };
                    match app::run_session(req, &ev).await {
                        Ok(receipt) => {
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
            UiAction::SaveLog => {
                updates.send(SessionUpdate::LogSaveFailed {
                    detail: "saving the session log is not available yet".into(),
                });
            }
        }
    }
}
