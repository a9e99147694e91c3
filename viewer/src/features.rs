//! Chat, file transfer, sharing state and session notes of one session,
//! the technician's side (sans-IO: every call returns [`Effect`]s that the
//! session applies: control messages to send, events to print, log records).
//!
//! Files offered by the customer are saved, once the technician accepts
//! them, under `<log dir>/files/` with a fresh name (never replacing a
//! file); their size and BLAKE2s digest are checked
//! ([`IncomingTransfers`]), and a failed or cancelled file is deleted.
//! In clear mode chat and files do not exist (plain RFB has no control
//! channel): the commands answer with an error event; notes still work.

use crate::headless::Event;
use crate::log::{self, Direction};
use crate::session::SessionCommand;
use crypto::control::{ControlMessage, IncomingTransfers, TransferEvent};
use crypto::transfer::{self, OutgoingEvent, OutgoingTransfers, PreparedFile};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Largest file the technician accepts from a customer.
pub const MAX_INCOMING: u64 = 4 * 1024 * 1024 * 1024;
/// Most files coming in at once per session.
pub const MAX_INCOMING_LIVE: usize = 8;
/// Progress events at most this often per transfer.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the session must do after a call.
#[derive(Debug)]
pub enum Effect {
    /// Send this control message to the customer.
    Send(ControlMessage),
    /// Print this event.
    Emit(Event),
    /// Append this record to the session log.
    Log(log::Event),
}

/// Progress from the technician's sending tasks.
#[derive(Debug)]
pub enum Internal {
    /// A file was read and hashed.
    Prepared(Result<PreparedFile, String>),
    /// Bytes sent so far.
    Progress {
        /// Transfer id.
        id: u32,
        /// Bytes.
        done: u64,
        /// Total.
        size: u64,
    },
    /// A sending task ended.
    Sent {
        /// Transfer id.
        id: u32,
        /// Why it stopped, if it did not finish.
        result: Result<(), String>,
    },
}

struct Receiving {
    file: std::fs::File,
    path: PathBuf,
    name: String,
    size: u64,
    digest: String,
    done: u64,
    reported: Instant,
}

/// The technician's side of chat, files and notes for one session.
pub struct Extras {
    session: u64,
    technician: String,
    dir: PathBuf,
    crypto: bool,
    outgoing: OutgoingTransfers,
    incoming: IncomingTransfers,
    offers: HashMap<u32, (String, u64, String)>,
    receiving: HashMap<u32, Receiving>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    /// The control sender, for the sending tasks (crypto only).
    ctl: Option<crypto::tokio_io::ControlSender>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("session", &self.session)
            .finish()
    }
}

/// UTC time of day, `HH:MM:SS`.
pub fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

fn dir_name(to_customer: bool) -> &'static str {
    if to_customer {
        "to_customer"
    } else {
        "from_customer"
    }
}

impl Extras {
    /// Session `session` of `technician`; received files go to `dir`.
    /// `ctl` is the control channel (`None` in clear mode).
    pub fn new(
        session: u64,
        technician: &str,
        dir: PathBuf,
        ctl: Option<crypto::tokio_io::ControlSender>,
    ) -> (Self, mpsc::UnboundedReceiver<Internal>) {
        let (internal_tx, rx) = mpsc::unbounded_channel();
        (
            Extras {
                session,
                technician: technician.into(),
                dir,
                crypto: ctl.is_some(),
                outgoing: OutgoingTransfers::new(),
                incoming: IncomingTransfers::new(MAX_INCOMING, MAX_INCOMING_LIVE),
                offers: HashMap::new(),
                receiving: HashMap::new(),
                internal_tx,
                ctl,
            },
            rx,
        )
    }

    fn error(&self, out: &mut Vec<Effect>, message: String) {
        out.push(Effect::Emit(Event::Error {
            message: format!("session {}: {message}", self.session),
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn finished(
        &self,
        out: &mut Vec<Effect>,
        id: u32,
        to_customer: bool,
        name: &str,
        size: u64,
        outcome: &str,
        path: Option<String>,
        hash: Option<String>,
    ) {
        out.push(Effect::Log(log::Event::File {
            name: name.into(),
            size,
            direction: if to_customer {
                Direction::ToCustomer
            } else {
                Direction::FromCustomer
            },
            hash: hash.clone(),
            outcome: outcome.into(),
        }));
        out.push(Effect::Emit(Event::FileFinished {
            session: self.session,
            id,
            direction: dir_name(to_customer),
            name: name.into(),
            size,
            outcome: outcome.into(),
            path,
            hash,
        }));
    }

    /// Handles a technician command (chat, files, note); other commands are ignored.
    pub fn command(&mut self, cmd: SessionCommand, out: &mut Vec<Effect>) {
        if let SessionCommand::Note(text) = &cmd {
            if text.chars().any(|c| c.is_control() && c != '\t') {
                self.error(out, "a note may not hold control characters".into());
                return;
            }
            out.push(Effect::Log(log::Event::Note { text: text.clone() }));
            out.push(Effect::Emit(Event::Note {
                session: self.session,
                text: text.clone(),
            }));
            return;
        }
        if !self.crypto {
            self.error(
                out,
                "chat and file transfer need an encrypted (crypto) session: not available in clear mode".into(),
            );
            return;
        }
        match cmd {
            SessionCommand::Chat(text) => {
                let msg = ControlMessage::Chat { text: text.clone() };
                if let Err(e) = msg.validate() {
                    self.error(out, format!("chat not sent: {e}"));
                    return;
                }
                out.push(Effect::Send(msg));
                out.push(Effect::Log(log::Event::Chat {
                    from: self.technician.clone(),
                    text: text.clone(),
                }));
                out.push(Effect::Emit(Event::Chat {
                    session: self.session,
                    from: "technician".into(),
                    time: clock(),
                    text,
                }));
            }
            SessionCommand::SendFile(path) => {
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let r = tokio::task::spawn_blocking(move || transfer::prepare(&path))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()));
                    let _ = tx.send(Internal::Prepared(r));
                });
            }
            SessionCommand::AcceptFile(id) => self.accept(id, out),
            SessionCommand::RefuseFile(id) => match self.offers.remove(&id) {
                Some((name, size, _)) => {
                    self.incoming.forget(id);
                    out.push(Effect::Send(ControlMessage::FileRefuse { id }));
                    self.finished(out, id, false, &name, size, "refused", None, None);
                }
                None => self.error(out, format!("no file offer {id} is waiting")),
            },
            SessionCommand::CancelFile(id) => {
                if let Some(r) = self.receiving.remove(&id) {
                    self.incoming.forget(id);
                    drop(r.file);
                    let _ = std::fs::remove_file(&r.path);
                    out.push(Effect::Send(ControlMessage::FileCancel { id }));
                    let o = "cancelled by the technician";
                    self.finished(out, id, false, &r.name, r.size, o, None, None);
                } else if self.outgoing.state(id).is_some() {
                    if let Some(m) = self.outgoing.cancel(id) {
                        out.push(Effect::Send(m));
                        if let Some(f) = self.outgoing.finished(id) {
                            let o = "cancelled by the technician";
                            self.finished(out, id, true, f.name.as_str(), f.size, o, None, None);
                        }
                    }
                } else {
                    self.error(out, format!("no file transfer {id}"));
                }
            }
            _ => {}
        }
    }

    /// A free name in the files directory for `name`.
    fn target(&self, name: &str) -> std::io::Result<(std::fs::File, PathBuf)> {
        std::fs::create_dir_all(&self.dir)?;
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.to_string(), String::new()),
        };
        for n in 0..1000 {
            let candidate = if n == 0 {
                self.dir.join(name)
            } else {
                self.dir.join(format!("{stem}-{n}{ext}"))
            };
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&candidate)
            {
                Ok(f) => return Ok((f, candidate)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::other("no free file name"))
    }

    fn accept(&mut self, id: u32, out: &mut Vec<Effect>) {
        let Some((name, size, digest)) = self.offers.get(&id).cloned() else {
            self.error(out, format!("no file offer {id} is waiting"));
            return;
        };
        let (file, path) = match self.target(&name) {
            Ok(x) => x,
            Err(e) => {
                self.error(out, format!("cannot save in {}: {e}", self.dir.display()));
                return;
            }
        };
        self.offers.remove(&id);
        if self.incoming.accept(id).is_err() {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return;
        }
        self.receiving.insert(
            id,
            Receiving {
                file,
                path,
                name,
                size,
                digest,
                done: 0,
                reported: Instant::now(),
            },
        );
        out.push(Effect::Send(ControlMessage::FileAccept { id }));
        out.push(Effect::Emit(Event::FileProgress {
            session: self.session,
            id,
            direction: "from_customer",
            done: 0,
            size,
        }));
    }

    /// Handles chat, sharing and file messages from the customer; returns
    /// false for anything else.
    pub fn control(&mut self, msg: &ControlMessage, out: &mut Vec<Effect>) -> bool {
        match msg {
            ControlMessage::Chat { text } => {
                out.push(Effect::Log(log::Event::Chat {
                    from: "customer".into(),
                    text: text.clone(),
                }));
                out.push(Effect::Emit(Event::Chat {
                    session: self.session,
                    from: "customer".into(),
                    time: clock(),
                    text: text.clone(),
                }));
                return true;
            }
            ControlMessage::Sharing { state } => {
                out.push(Effect::Log(log::Event::Sharing {
                    state: state.clone(),
                }));
                out.push(Effect::Emit(Event::Sharing {
                    session: self.session,
                    state: state.clone(),
                }));
                return true;
            }
            ControlMessage::FileAccept { .. }
            | ControlMessage::FileRefuse { .. }
            | ControlMessage::FileCancel { .. }
            | ControlMessage::FileAck { .. } => {
                if let Some(ev) = self.outgoing.handle(msg) {
                    self.outgoing_event(ev, out);
                    return true;
                }
            }
            ControlMessage::FileOffer { .. }
            | ControlMessage::UnsafeFileOffer { .. }
            | ControlMessage::FileChunk { .. }
            | ControlMessage::FileDone { .. } => {}
            _ => return false,
        }
        let digest = match msg {
            ControlMessage::FileOffer { blake2s, .. } => transfer::digest_hex(blake2s),
            _ => String::new(),
        };
        match self.incoming.handle(msg) {
            Ok(Some(ev)) => self.incoming_event(ev, digest, out),
            Ok(None) => {}
            Err(e) => {
                if let ControlMessage::FileOffer { id, .. }
                | ControlMessage::UnsafeFileOffer { id, .. } = msg
                {
                    // Nothing is written: the offer is refused, the session goes on.
                    out.push(Effect::Send(ControlMessage::FileRefuse { id: *id }));
                    self.error(out, format!("file offer refused: {e}"));
                    return true;
                }
                let id = match msg {
                    ControlMessage::FileChunk { id, .. }
                    | ControlMessage::FileDone { id }
                    | ControlMessage::FileCancel { id } => *id,
                    _ => return true,
                };
                self.incoming.forget(id);
                if let Some(r) = self.receiving.remove(&id) {
                    drop(r.file);
                    let _ = std::fs::remove_file(&r.path);
                    out.push(Effect::Send(ControlMessage::FileCancel { id }));
                    let o = format!("failed: {e}");
                    self.finished(out, id, false, &r.name, r.size, &o, None, None);
                }
            }
        }
        true
    }

    fn outgoing_event(&mut self, ev: OutgoingEvent, out: &mut Vec<Effect>) {
        match ev {
            OutgoingEvent::Accepted(id, file, cancel, acks) => {
                let Some(ctl) = self.ctl.clone() else { return };
                let tx = self.internal_tx.clone();
                let size = file.size;
                out.push(Effect::Emit(Event::FileProgress {
                    session: self.session,
                    id,
                    direction: "to_customer",
                    done: 0,
                    size,
                }));
                tokio::spawn(async move {
                    let last = std::sync::Mutex::new(Instant::now());
                    let progress = |done: u64| {
                        let mut l = last.lock().unwrap_or_else(|p| p.into_inner());
                        if l.elapsed() >= PROGRESS_EVERY {
                            *l = Instant::now();
                            let _ = tx.send(Internal::Progress { id, done, size });
                        }
                    };
                    let r = transfer::send_file(&ctl, id, &file, &cancel, acks, &progress).await;
                    let _ = tx.send(Internal::Sent {
                        id,
                        result: r.map_err(|e| e.to_string()),
                    });
                });
            }
            OutgoingEvent::Refused(id, f) => {
                let o = "refused by the customer";
                self.finished(out, id, true, f.name.as_str(), f.size, o, None, None);
            }
            OutgoingEvent::Cancelled(id, f) => {
                let o = "cancelled by the customer";
                self.finished(out, id, true, f.name.as_str(), f.size, o, None, None);
            }
        }
    }

    fn incoming_event(&mut self, ev: TransferEvent, digest: String, out: &mut Vec<Effect>) {
        match ev {
            TransferEvent::Offered { id, name, size } => {
                self.offers.insert(id, (name.to_string(), size, digest));
                out.push(Effect::Emit(Event::FileOffered {
                    session: self.session,
                    id,
                    name: name.to_string(),
                    size,
                }));
            }
            TransferEvent::Data { id, data } => {
                let Some(r) = self.receiving.get_mut(&id) else {
                    return;
                };
                if let Err(e) = r.file.write_all(&data) {
                    if let Some(r) = self.receiving.remove(&id) {
                        self.incoming.forget(id);
                        drop(r.file);
                        let _ = std::fs::remove_file(&r.path);
                        out.push(Effect::Send(ControlMessage::FileCancel { id }));
                        let o = format!("failed: {e}");
                        self.finished(out, id, false, &r.name, r.size, &o, None, None);
                    }
                    return;
                }
                r.done += data.len() as u64;
                // Flow control: the sender waits for these acks.
                if let Some(ack) = self.incoming.written(id, data.len() as u64) {
                    out.push(Effect::Send(ack));
                }
                if r.reported.elapsed() >= PROGRESS_EVERY {
                    r.reported = Instant::now();
                    out.push(Effect::Emit(Event::FileProgress {
                        session: self.session,
                        id,
                        direction: "from_customer",
                        done: r.done,
                        size: r.size,
                    }));
                }
            }
            TransferEvent::Complete { id, .. } => {
                if let Some(r) = self.receiving.remove(&id) {
                    let outcome = match r.file.sync_all() {
                        Ok(()) => "done".to_string(),
                        Err(e) => format!("failed: {e}"),
                    };
                    let path = Some(r.path.display().to_string());
                    let hash = Some(r.digest.clone());
                    self.finished(out, id, false, &r.name, r.size, &outcome, path, hash);
                }
            }
            TransferEvent::Cancelled { id } => {
                if let Some(r) = self.receiving.remove(&id) {
                    drop(r.file);
                    let _ = std::fs::remove_file(&r.path);
                    let o = "cancelled by the customer";
                    self.finished(out, id, false, &r.name, r.size, o, None, None);
                } else if let Some((name, size, _)) = self.offers.remove(&id) {
                    let o = "withdrawn by the customer";
                    self.finished(out, id, false, &name, size, o, None, None);
                }
            }
        }
    }

    /// Handles progress from the sending tasks.
    pub fn internal(&mut self, i: Internal, out: &mut Vec<Effect>) {
        match i {
            Internal::Prepared(Err(e)) => self.error(out, format!("cannot send the file: {e}")),
            Internal::Prepared(Ok(file)) => {
                let size = file.size;
                let (id, offer) = self.outgoing.offer(file);
                out.push(Effect::Send(offer));
                // Announces the id (for `cancel-file`) before the customer answers.
                out.push(Effect::Emit(Event::FileProgress {
                    session: self.session,
                    id,
                    direction: "to_customer",
                    done: 0,
                    size,
                }));
            }
            Internal::Progress { id, done, size } => out.push(Effect::Emit(Event::FileProgress {
                session: self.session,
                id,
                direction: "to_customer",
                done,
                size,
            })),
            Internal::Sent { id, result } => {
                let Some(f) = self.outgoing.finished(id) else {
                    return;
                };
                let (outcome, hash) = match result {
                    Ok(()) => ("done".to_string(), Some(transfer::digest_hex(&f.digest))),
                    Err(e) if e == "cancelled" => ("cancelled by the technician".to_string(), None),
                    Err(e) => (format!("failed: {e}"), None),
                };
                self.finished(out, id, true, f.name.as_str(), f.size, &outcome, None, hash);
            }
        }
    }

    /// The session ended: partial received files are deleted.
    pub fn abort(&mut self, out: &mut Vec<Effect>) {
        let ids: Vec<u32> = self.receiving.keys().copied().collect();
        for id in ids {
            if let Some(r) = self.receiving.remove(&id) {
                drop(r.file);
                let _ = std::fs::remove_file(&r.path);
                let o = "failed: the session ended";
                self.finished(out, id, false, &r.name, r.size, o, None, None);
            }
        }
        for id in self.outgoing.ids() {
            self.outgoing.cancel(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A customer's offer whose name failed the checks is refused, nothing
    /// is written, and the session goes on (no `false`: the message was ours).
    #[test]
    fn unsafe_offer_is_refused_and_the_session_goes_on() {
        let dir = std::env::temp_dir().join(format!("viewer-unsafe-offer-{}", std::process::id()));
        let (mut extras, _rx) = Extras::new(1, "tech", dir.clone(), None);
        let mut out = Vec::new();
        let msg = ControlMessage::UnsafeFileOffer {
            id: 7,
            name: "../../x".into(),
            size: 3,
            why: "a path".into(),
        };
        assert!(extras.control(&msg, &mut out));
        assert!(
            out.iter()
                .any(|e| matches!(e, Effect::Send(ControlMessage::FileRefuse { id: 7 }))),
            "{out:?}"
        );
        assert!(!dir.exists(), "something was written for an unsafe offer");
    }
}
