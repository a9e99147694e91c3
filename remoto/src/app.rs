//! One support session from the customer's side, independent of how it is
//! shown: connect out to the chosen technician, secure the channel (crypto
//! entries) or speak plain RFB (clear entries), then stream the screen until
//! Close, the technician leaving, or the network failing.
//!
//! The picker window and the headless `remoto connect` both drive this.

use crate::connect::{self, ConnectError, Proxy};
use crate::customer_log::{Journal, Summary};
use crate::features::{Features, UserCommand};
use crate::platform::{InputSink, PlatformError, ScreenSource};
use crate::privacy::{Geometry, Privacy, PrivateScreen};
use crate::session::{self, EndReason, EngineParts, SessionError, SessionNotice, SessionStats};
use crypto::control::ControlMessage;
use crypto::hello::{CustomerHello, Decision};
use crypto::session_code::SessionCode;
use crypto::tokio_io::{ChannelError, InitiatorConfig, connect_initiator};
use profiles::model::{Control, Profile, Technician};
use std::collections::BTreeMap;
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
    /// A chat line (with the local time `HH:MM:SS`).
    Chat {
        /// True when the technician wrote it.
        from_technician: bool,
        /// The text.
        text: String,
        /// Local time of day.
        time: String,
    },
    /// The technician offers a file: accept (choosing where) or refuse.
    FileOffered {
        /// Transfer id (for `accept-file` / `refuse-file`).
        id: u32,
        /// The offered name.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// A transfer made progress.
    FileProgress {
        /// Transfer id.
        id: u32,
        /// True for a file coming from the technician.
        incoming: bool,
        /// Bytes so far.
        done: u64,
        /// Total bytes.
        size: u64,
    },
    /// A transfer ended (`done`, `refused`, `cancelled`, `failed: …`).
    FileFinished {
        /// Transfer id.
        id: u32,
        /// True for a file coming from the technician.
        incoming: bool,
        /// File name.
        name: String,
        /// Outcome.
        outcome: String,
    },
    /// What is shared changed (`all`, `paused`, `monitor N`, `window …`).
    SharingChanged(String),
    /// Something the customer should read (a refused command, an error).
    Notice(String),
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
    /// Control, chat and files, with the session log for "Save log".
    pub summary: Summary,
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
    /// What the hello sends (see [`crate::sysinfo::customer_hello`]); the
    /// customer was shown its [`CustomerHello::shared_fields`].
    pub hello: CustomerHello,
    /// Chat, files and privacy commands from the panel or the console.
    pub commands: mpsc::UnboundedReceiver<UserCommand>,
    /// The privacy setting the capture applies.
    pub privacy: Privacy,
    /// Where windows and monitors are (for share-window / share-monitor).
    pub geometry: Box<dyn Geometry>,
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
    crate::sysinfo::customer_hello(profile, screen, &[])
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
        hello,
        mut commands,
        privacy,
        geometry,
    } = req;
    // Privacy masks are applied in the capture thread, before encoding.
    let screen: Box<dyn ScreenSource> =
        Box::new(PrivateScreen::new(screen, privacy.clone(), geometry));
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
    let shared: BTreeMap<String, String> = hello
        .shared_fields()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();

    let Some(public_key) = technician.public_key() else {
        // Clear mode: plain RFB straight on the TCP stream.
        events(AppEvent::Sharing {
            encrypted: false,
            control: *control.borrow(),
        });
        let journal = Journal::start(&tech_id, BTreeMap::new(), None, &endpoint, false);
        if *control.borrow() {
            journal.consent(true);
        }
        let started = Instant::now();
        let (mut feats, _internal) =
            Features::new(&tech_id, journal.clone(), None, privacy, events);
        let watcher = control_watcher(control.clone(), events, None, journal.clone());
        let engine = session::run(
            tcp,
            EngineParts {
                screen,
                input,
                name,
                control,
                close,
                notices: Some(notice_tx),
            },
        );
        tokio::pin!(engine);
        tokio::pin!(watcher);
        let mut commands_open = true;
        let (res, stats) = loop {
            tokio::select! {
                r = &mut engine => break r,
                _ = &mut watcher => break unreachable_watcher(),
                c = commands.recv(), if commands_open => match c {
                    Some(c) => feats.command(c).await,
                    None => commands_open = false,
                },
            }
        };
        let end = res?;
        let summary = journal.finish(end_text(&end), stats.bytes_received, stats.bytes_sent);
        return Ok(Receipt {
            technician: tech_id,
            endpoint,
            encrypted: false,
            sas: None,
            duration: started.elapsed(),
            end,
            stats,
            summary,
        });
    };

    let code = match session_code {
        Some(c) => Some(c.parse::<SessionCode>().map_err(|_| AppError::BadCode)?),
        None => None,
    };
    let cfg = InitiatorConfig {
        technician: *public_key,
        hello,
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
    let journal = Journal::start(&tech_id, shared, Some(sas.clone()), &endpoint, true);
    // Tell the technician the starting consent state.
    let control_now = *control.borrow_and_update();
    if control_now {
        journal.consent(true);
    }
    let _ = ctl_tx
        .send(ControlMessage::ConsentChanged {
            control: control_now,
        })
        .await;
    let started = Instant::now();
    let (mut feats, mut internal) = Features::new(
        &tech_id,
        journal.clone(),
        Some(ctl_tx.clone()),
        privacy,
        events,
    );
    if feats.privacy_state() != "all" {
        feats.announce_sharing().await;
    }
    let (close_tx, close_rx) = oneshot::channel();
    let mut close = close;
    let watcher = control_watcher(
        control.clone(),
        events,
        Some(ctl_tx.clone()),
        journal.clone(),
    );
    // The streaming engine runs as a task of its own, so that chat and file
    // handling below (hashing, writing to disk) never holds up the screen.
    let mut engine = tokio::spawn(session::run(
        rfb,
        EngineParts {
            screen,
            input,
            name,
            control,
            close: close_rx,
            notices: Some(notice_tx),
        },
    ));
    let mut close_tx = Some(close_tx);
    let mut channel_end: Option<ChannelError> = None;
    let mut customer_closed = false;
    let mut commands_open = true;
    tokio::pin!(watcher);
    let (res, stats) = loop {
        tokio::select! {
            r = &mut engine => break r.unwrap_or_else(|e| {
                (Err(session::SessionError::EngineStopped(e.to_string())), Default::default())
            }),
            _ = &mut close, if close_tx.is_some() => {
                customer_closed = true;
                feats.stop_all();
                let _ = ctl_tx.send(ControlMessage::SessionEnd { reason: "the customer closed Remoto".into() }).await;
                if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
            }
            m = ctl_rx.recv(), if channel_end.is_none() => match m {
                Ok(ControlMessage::SessionEnd { .. }) => {
                    if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
                }
                Ok(m) => feats.control_message(m).await,
                Err(e) => {
                    channel_end = Some(e);
                    if let Some(tx) = close_tx.take() { let _ = tx.send(()); }
                }
            },
            c = commands.recv(), if commands_open => match c {
                Some(c) => feats.command(c).await,
                None => commands_open = false,
            },
            Some(i) = internal.recv() => feats.internal(i).await,
            _ = &mut watcher => {}
        }
    };
    feats.abort_incoming();
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
    let summary = journal.finish(end_text(&end), stats.bytes_received, stats.bytes_sent);
    Ok(Receipt {
        technician: tech_id,
        endpoint,
        encrypted: true,
        sas: Some(sas),
        duration: started.elapsed(),
        end,
        stats,
        summary,
    })
}

fn end_text(end: &EndReason) -> &'static str {
    match end {
        EndReason::CustomerClosed => "the customer closed Remoto",
        EndReason::ViewerClosed => "the technician ended the session",
    }
}

fn unreachable_watcher() -> (Result<EndReason, SessionError>, SessionStats) {
    // The watcher only ends when the control sender is gone, i.e. when the
    // whole program is ending: treat it as a close.
    (Ok(EndReason::CustomerClosed), SessionStats::default())
}

/// Reports control changes, logs them and tells the technician (crypto mode).
async fn control_watcher(
    mut control: watch::Receiver<bool>,
    events: &(dyn Fn(AppEvent) + Send + Sync),
    ctl: Option<crypto::tokio_io::ControlSender>,
    journal: Journal,
) {
    while control.changed().await.is_ok() {
        let on = *control.borrow_and_update();
        events(AppEvent::ControlChanged(on));
        journal.consent(on);
        if let Some(ctl) = &ctl {
            let _ = ctl
                .send(ControlMessage::ConsentChanged { control: on })
                .await;
        }
    }
    std::future::pending::<()>().await;
}
