//! One support session from the customer's side, independent of how it is
//! shown: connect out to the chosen technician, secure the channel (crypto
//! entries) or speak plain RFB (clear entries), then stream the screen until
//! Close, the technician leaving, or the network failing.
//!
//! The picker window and the headless `remoto connect` both drive this.

use crate::connect::{self, ConnectError, Proxy};
use crate::platform::{InputSink, PlatformError, ScreenSource};
use crate::session::{self, EndReason, EngineParts, SessionError, SessionNotice, SessionStats};
use crypto::control::ControlMessage;
use crypto::hello::{CustomerHello, Decision, ScreenSize};
use crypto::session_code::SessionCode;
use crypto::tokio_io::{ChannelError, InitiatorConfig, connect_initiator};
use profiles::model::{Control, Profile, SystemInfo, Technician};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How long the customer waits for the technician to accept.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(120);

/// What happens during a session, for the UI or the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// Trying these endpoints (all at once).
    Trying(Vec<String>),
    /// TCP connected to this endpoint.
    Reached(String),
    /// The secure channel is up; compare this code with the technician.
    Secured {
        /// The short authentication string, e.g. `123 456`.
        sas: String,
    },
    /// Waiting for the technician to accept.
    WaitingForTechnician,
    /// The session runs; the desktop is being shared.
    Sharing {
        /// Whether it is encrypted.
        encrypted: bool,
        /// Whether technician input is applied.
        control: bool,
    },
    /// The customer allowed or stopped control.
    ControlChanged(bool),
}

/// Why a session could not start or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No endpoint answered.
    #[error("technician {technician} is not reachable ({detail})")]
    Unreachable {
        /// The technician's ID.
        technician: String,
        /// Per-endpoint reasons.
        detail: String,
    },
    /// The secure channel could not be set up (wrong key, not a Remoto viewer…).
    #[error("secure connection to {technician} failed: {source}")]
    Secure {
        /// The technician's ID.
        technician: String,
        /// What went wrong.
        #[source]
        source: crypto::tokio_io::ConnectError,
    },
    /// The technician refused.
    #[error("technician {technician} refused the session: {reason}")]
    Refused {
        /// The technician's ID.
        technician: String,
        /// Their reason.
        reason: String,
    },
    /// The technician did not answer in time.
    #[error("technician {0} did not accept the session within {1} s")]
    NotAccepted(String, u64),
    /// The session code is not 8 digits.
    #[error("the session code must be the 8 digits the technician reads out")]
    BadCode,
    /// The screen could not be opened.
    #[error("cannot access the screen: {0}")]
    Platform(#[from] PlatformError),
    /// The session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The secure channel failed after it was set up.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The profile's proxy setting is invalid.
    #[error(transparent)]
    Proxy(ConnectError),
}

/// What the receipt shows at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The technician's ID.
    pub technician: String,
    /// Where the session went.
    pub endpoint: String,
    /// Encrypted or not.
    pub encrypted: bool,
    /// The SAS (crypto only).
    pub sas: Option<String>,
    /// How long the desktop was shared.
    pub duration: Duration,
    /// How it ended.
    pub end: EndReason,
    /// Transfer figures.
    pub stats: SessionStats,
}

/// The customer's answers that the session needs.
pub struct SessionRequest<'a> {
    /// The profile Remoto carries.
    pub profile: &'a Profile,
    /// The chosen technician.
    pub technician: &'a Technician,
    /// The one-time code typed by the customer, when required.
    pub session_code: Option<String>,
    /// Screen and input of this desktop.
    pub screen: Box<dyn ScreenSource>,
    /// Where technician input goes.
    pub input: Box<dyn InputSink>,
    /// Control state; the UI flips it ("Allow control"/"Stop control").
    pub control: watch::Receiver<bool>,
    /// Resolves when the customer presses Close.
    pub close: oneshot::Receiver<()>,
}

/// The control state a session starts with under the profile's policy.
pub fn initial_control(profile: &Profile) -> bool {
    matches!(profile.session.control, Control::Granted)
}

/// Whether the customer may turn control on under the profile's policy.
pub fn control_allowed_by_policy(profile: &Profile) -> bool {
    !matches!(profile.session.control, Control::ViewOnly)
}

/// The customer hello: only what the profile says is shared.
pub fn customer_hello(profile: &Profile, screen: (u16, u16)) -> CustomerHello {
    let share = &profile.session.share_system_info;
    let os = if share.contains(&SystemInfo::Os) {
        os_description()
    } else {
        String::new()
    };
    let mut hello = CustomerHello::new(env!("CARGO_PKG_VERSION"), &os);
    if share.contains(&SystemInfo::Screen) {
        hello.screen = Some(ScreenSize {
            width: screen.0,
            height: screen.1,
        });
    }
    if share.contains(&SystemInfo::Hostname) {
        hello.computer_name = hostname();
    }
    if share.contains(&SystemInfo::Username) {
        hello.user_name = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .ok()
            .filter(|u| !u.is_empty());
    }
    hello
}

fn os_description() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        });
    match pretty {
        Some(p) => format!("{} ({p})", std::env::consts::OS),
        None => std::env::consts::OS.to_string(),
    }
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
}

/// Runs one session to its end. `events` gets progress as it happens.
pub async fn run_session(
    req: SessionRequest<'_>,
    events: &(dyn Fn(AppEvent) + Send + Sync),
) -> Result<Receipt, AppError> {
    let SessionRequest {
        profile,
        technician,
        session_code,
        screen,
        input,
        mut control,
        close,
    } = req;
    let tech_id = technician.id.clone();
    let proxy = match &profile.network.proxy {
        Some(ep) => Some(Proxy::parse(&ep.to_string()).map_err(AppError::Proxy)?),
        None => Proxy::from_env().transpose().map_err(AppError::Proxy)?,
    };
    let endpoints: Vec<String> = technician.endpoints.iter().map(|e| e.to_string()).collect();
    events(AppEvent::Trying(endpoints.clone()));
    let (tcp, endpoint) =
        connect::connect_any(&endpoints, proxy.as_ref(), connect::ATTEMPT_TIMEOUT, &())
            .await
            .map_err(|e| AppError::Unreachable {
                technician: tech_id.clone(),
                detail: e.to_string(),
            })?;
    events(AppEvent::Reached(endpoint.clone()));
    let name = hostname().unwrap_or_else(|| "Remoto".into());
    let (notice_tx, mut notice_rx) = mpsc::unbounded_channel::<SessionNotice>();
    // Drain notices; the UI learns what it needs from AppEvents.
    tokio::spawn(async move { while notice_rx.recv().await.is_some() {} });

    let Some(public_key) = technician.public_key() else {
        // Clear mode: plain RFB straight on the TCP stream.
        events(AppEvent::Sharing {
            encrypted: false,
            control: *control.borrow(),
        });
        let started = Instant::now();
        let watcher = control_watcher(control.clone(), events, None);
        let (res, stats) = tokio::select! {
            r = session::run(tcp, EngineParts { screen, input, name, control, close, notices: Some(notice_tx) }) => r,
            _ = watcher => unreachable_watcher(),
        };
        let end = res?;
        return Ok(Receipt {
            technician: tech_id,
            endpoint,
            encrypted: false,
            sas: None,
            duration: started.elapsed(),
            end,
            stats,
        });
    };

    let code = match session_code {
        Some(c) => Some(c.parse::<SessionCode>().map_err(|_| AppError::BadCode)?),
        None => None,
    };
    let cfg = InitiatorConfig {
        technician: *public_key,
        hello: customer_hello(profile, screen.size()),
        session_code: code,
        channel: Default::default(),
    };
    let channel = connect_initiator(tcp, cfg)
        .await
        .map_err(|source| AppError::Secure {
            technician: tech_id.clone(),
            source,
        })?;
    let sas = channel.info.sas.to_string();
    events(AppEvent::Secured { sas: sas.clone() });
    let crypto::tokio_io::SecureChannel {
        rfb,
        control: ctl_tx,
        events: mut ctl_rx,
        info,
    } = channel;
    match info.decision {
        Decision::Accepted => {}
        Decision::Refused { reason } => {
            return Err(AppError::Refused {
                technician: tech_id,
                reason,
            });
        }
        Decision::Pending => {
            events(AppEvent::WaitingForTechnician);
            match tokio::time::timeout(ACCEPT_TIMEOUT, ctl_rx.wait_decision()).await {
                Err(_) => return Err(AppError::NotAccepted(tech_id, ACCEPT_TIMEOUT.as_secs())),
                Ok(Err(ChannelError::Refused(reason))) => {
                    return Err(AppError::Refused {
                        technician: tech_id,
                        reason,
                    });
                }
                Ok(Err(e)) => return Err(e.into()),
                Ok(Ok(())) => {}
            }
        }
    }
    events(AppEvent::Sharing {
        encrypted: true,
        control: *control.borrow(),
    });
    // Tell the technician the starting consent state.
    let control_now = *control.borrow_and_update();
    let _ = ctl_tx
        .send(ControlMessage::ConsentChanged {
            control: control_now,
        })
        .await;
    let started = Instant::now();
    let (close_tx, close_rx) = oneshot::channel();
    let mut close = close;
    let watcher = control_watcher(control.clone(), events, Some(ctl_tx.clone()));
    let engine = session::run(
        rfb,
        EngineParts {
            screen,
            input,
            name,
            control,
            close: close_rx,
            notices: Some(notice_tx),
        },
    );
    tokio::pin!(engine);
    let mut close_tx = Some(close_tx);
    let mut channel_end: Option<ChannelError> = None;
    let mut customer_closed = false;
    tokio::pin!(watcher);
    let (res, stats) = loop {
        tokio::select! {
            r = &mut engine => break r,
            _ = &mut close, if close_tx.is_some() => {
                customer_closed = true;
                let _ = ctl_tx.send(ControlMessage::SessionEnd { reason: "the customer closed Remoto".into() }).await;
                if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
            }
            m = ctl_rx.recv(), if channel_end.is_none() => match m {
                Ok(ControlMessage::SessionEnd { .. }) => {
                    if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
                }
                Ok(_) => {}
                Err(e) => {
                    channel_end = Some(e);
                    if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
                }
            },
            _ = &mut watcher => {}
        }
    };
    let end = match (res, channel_end) {
        // After Close the viewer hangs up too: that is still the customer's close.
        _ if customer_closed => EndReason::CustomerClosed,
        (_, Some(ChannelError::Closed)) | (Ok(EndReason::ViewerClosed), None) => {
            EndReason::ViewerClosed
        }
        (_, Some(e)) => return Err(e.into()),
        (Ok(r), None) => r,
        (Err(e), None) => return Err(e.into()),
    };
    Ok(Receipt {
        technician: tech_id,
        endpoint,
        encrypted: true,
        sas: Some(sas),
        duration: started.elapsed(),
        end,
        stats,
    })
}

fn unreachable_watcher() -> (Result<EndReason, SessionError>, SessionStats) {
    // The watcher only ends when the control sender is gone, i.e. when the
    // whole program is ending: treat it as a close.
    (Ok(EndReason::CustomerClosed), SessionStats::default())
}

/// Reports control changes and tells the technician (crypto mode).
async fn control_watcher(
    mut control: watch::Receiver<bool>,
    events: &(dyn Fn(AppEvent) + Send + Sync),
    ctl: Option<crypto::tokio_io::ControlSender>,
) {
    while control.changed().await.is_ok() {
        let on = *control.borrow_and_update();
        events(AppEvent::ControlChanged(on));
        if let Some(ctl) = &ctl {
            let _ = ctl
                .send(ControlMessage::ConsentChanged { control: on })
                .await;
        }
    }
    std::future::pending::<()>().await;
}
