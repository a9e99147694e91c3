//! Chat, file transfer and privacy during a session (the customer's side),
//! over the secure channel's control messages. In clear mode only the
//! privacy controls work (they are local); chat and files answer with a
//! notice that they need an encrypted (Crypto) technician.
//!
//! Files from the technician are written only after the customer accepted
//! the offer and chose where ([`UserCommand::AcceptFile`]); an existing file
//! is never replaced unless the customer said so. Every received byte is
//! checked against the announced size and BLAKE2s digest
//! ([`IncomingTransfers`]); a failed or cancelled file is deleted.

use crate::app::AppEvent;
use crate::customer_log::{FileRecord, Journal, create_received_file};
use crate::privacy::{Privacy, ShareMode};
use crypto::control::{ControlMessage, IncomingTransfers, TransferError, TransferEvent};
use crypto::tokio_io::ControlSender;
use crypto::transfer::{self, OutgoingEvent, OutgoingTransfers, PreparedFile};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Largest file the customer accepts from the technician.
pub const MAX_INCOMING: u64 = 4 * 1024 * 1024 * 1024;
/// Most files coming in at once.
pub const MAX_INCOMING_LIVE: usize = 8;
/// First id of the customer's own offers (the technician's start at 1).
pub const FIRST_OUTGOING_ID: u32 = 0x8000_0001;
/// Progress is reported at most this often per transfer.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the customer asks for during a session (panel or console).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Send a chat line.
    Chat(String),
    /// Offer a file to the technician.
    SendFile(PathBuf),
    /// Accept an offered file and save it at `path` (a directory: under
    /// the offered name).
    AcceptFile {
        /// Transfer id.
        id: u32,
        /// Where to save.
        path: PathBuf,
        /// Replace an existing file (the customer confirmed).
        overwrite: bool,
    },
    /// Refuse an offered file.
    RefuseFile(u32),
    /// Stop a transfer in either direction.
    CancelFile(u32),
    /// Change what is shared.
    Share(ShareMode),
}

fn parse_id(verb: &str, s: Option<&str>) -> Result<u32, String> {
    let s = s.ok_or_else(|| format!("{verb}: missing transfer id"))?;
    s.parse()
        .map_err(|_| format!("{verb}: {s:?} is not a transfer id"))
}

fn parse_xid(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

impl UserCommand {
    /// Parses a console line of `remoto connect`: `chat TEXT`,
    /// `send-file PATH`, `accept-file ID PATH`, `accept-file-overwrite ID
    /// PATH`, `refuse-file ID`, `cancel-file ID`, `pause`, `resume`,
    /// `share-all`, `share-window XID`, `share-monitor N`. `Ok(None)`: not
    /// one of these (the caller handles allow/stop/close).
    pub fn parse_console(line: &str) -> Result<Option<UserCommand>, String> {
        let line = line.trim_end_matches(['\r', '\n']);
        let trimmed = line.trim_start();
        let (verb, rest) = match trimmed.split_once(char::is_whitespace) {
            Some((v, r)) => (v, r.trim_start()),
            None => (trimmed, ""),
        };
        let arg = |what: &str| {
            if rest.trim().is_empty() {
                Err(format!("{verb}: missing {what}"))
            } else {
                Ok(rest.trim().to_string())
            }
        };
        let cmd = match verb {
            "chat" => UserCommand::Chat(arg("text")?),
            "send-file" => UserCommand::SendFile(PathBuf::from(arg("path")?)),
            "accept-file" | "accept-file-overwrite" => {
                let (id, path) = match rest.split_once(char::is_whitespace) {
                    Some((i, p)) if !p.trim().is_empty() => (i, p.trim()),
                    _ => return Err(format!("{verb}: use `{verb} ID PATH`")),
                };
                UserCommand::AcceptFile {
                    id: parse_id(verb, Some(id))?,
                    path: PathBuf::from(path),
                    overwrite: verb == "accept-file-overwrite",
                }
            }
            "refuse-file" => {
                UserCommand::RefuseFile(parse_id(verb, rest.split_whitespace().next())?)
            }
            "cancel-file" => {
                UserCommand::CancelFile(parse_id(verb, rest.split_whitespace().next())?)
            }
            "pause" => UserCommand::Share(ShareMode::Paused),
            "resume" | "share-all" => UserCommand::Share(ShareMode::All),
            "share-window" => {
                let a = arg("window id")?;
                UserCommand::Share(ShareMode::Window(
                    parse_xid(&a)
                        .ok_or_else(|| format!("share-window: {a:?} is not a window id"))?,
                ))
            }
            "share-monitor" => {
                let a = arg("monitor number")?;
                UserCommand::Share(ShareMode::Monitor(
                    a.parse()
                        .map_err(|_| format!("share-monitor: {a:?} is not a monitor number"))?,
                ))
            }
            _ => return Ok(None),
        };
        Ok(Some(cmd))
    }
}

/// Progress of the customer's own transfers, from their sending tasks.
#[derive(Debug)]
pub enum Internal {
    /// A file was read and hashed, ready to offer.
    Prepared(Result<PreparedFile, String>),
    /// Bytes sent so far.
    Progress {
        /// Transfer id.
        id: u32,
        /// Bytes sent.
        done: u64,
        /// Total.
        size: u64,
    },
    /// The sending task ended.
    Sent {
        /// Transfer id.
        id: u32,
        /// `Err`: why it stopped.
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

/// The customer's side of chat, files and privacy for one session.
pub struct Features<'a> {
    technician: String,
    journal: Journal,
    ctl: Option<ControlSender>,
    privacy: Privacy,
    events: &'a (dyn Fn(AppEvent) + Send + Sync),
    outgoing: OutgoingTransfers,
    incoming: IncomingTransfers,
    offers: HashMap<u32, (String, u64, String)>,
    receiving: HashMap<u32, Receiving>,
    internal_tx: mpsc::UnboundedSender<Internal>,
}

/// Local time of day, `HH:MM:SS` (UTC).
pub fn clock() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

const CLEAR_MODE: &str =
    "chat and file transfer need an encrypted (Crypto) technician: not available in clear mode";

impl<'a> Features<'a> {
    /// Starts with nothing in flight; `ctl` is `None` in clear mode. The
    /// receiver gets the sending tasks' progress: feed it to [`internal`](Self::internal).
    pub fn new(
        technician: &str,
        journal: Journal,
        ctl: Option<ControlSender>,
        privacy: Privacy,
        events: &'a (dyn Fn(AppEvent) + Send + Sync),
    ) -> (Self, mpsc::UnboundedReceiver<Internal>) {
        let (internal_tx, rx) = mpsc::unbounded_channel();
        (
            Features {
                technician: technician.into(),
                journal,
                ctl,
                privacy,
                events,
                outgoing: OutgoingTransfers::starting_at(FIRST_OUTGOING_ID),
                incoming: IncomingTransfers::new(MAX_INCOMING, MAX_INCOMING_LIVE),
                offers: HashMap::new(),
                receiving: HashMap::new(),
                internal_tx,
            },
            rx,
        )
    }

    fn emit(&self, e: AppEvent) {
        (self.events)(e)
    }

    fn notice(&self, s: impl Into<String>) {
        self.emit(AppEvent::Notice(s.into()))
    }

    async fn send(&self, m: ControlMessage) {
        if let Some(ctl) = &self.ctl {
            // A closed channel ends the session elsewhere.
            let _ = ctl.send(m).await;
        }
    }

    /// What is shared now (`all`, `paused`, …).
    pub fn privacy_state(&self) -> String {
        self.privacy.get().describe()
    }

    /// Tells the technician (and the log) what is shared now.
    pub async fn announce_sharing(&self) {
        let state = self.privacy_state();
        self.journal.sharing(&state);
        self.emit(AppEvent::SharingChanged(state.clone()));
        self.send(ControlMessage::Sharing { state }).await;
    }

    fn finished(
        &self,
        id: u32,
        incoming: bool,
        name: &str,
        size: u64,
        outcome: &str,
        hash: Option<String>,
    ) {
        self.journal.file(
            FileRecord {
                name: name.into(),
                size,
                to_customer: incoming,
                outcome: outcome.into(),
            },
            hash,
        );
        self.emit(AppEvent::FileFinished {
            id,
            incoming,
            name: name.into(),
            outcome: outcome.into(),
        });
    }

    /// Handles one customer command.
    pub async fn command(&mut self, cmd: UserCommand) {
        if let UserCommand::Share(mode) = cmd {
            self.privacy.set(mode);
            self.announce_sharing().await;
            return;
        }
        if self.ctl.is_none() {
            self.notice(CLEAR_MODE);
            return;
        }
        match cmd {
            UserCommand::Share(_) => {}
            UserCommand::Chat(text) => {
                let msg = ControlMessage::Chat { text: text.clone() };
                if let Err(e) = msg.validate() {
                    self.notice(format!("chat not sent: {e}"));
                    return;
                }
                self.send(msg).await;
                self.journal.chat("customer", &text);
                self.emit(AppEvent::Chat {
                    from_technician: false,
                    text,
                    time: clock(),
                });
            }
            UserCommand::SendFile(path) => {
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let r = tokio::task::spawn_blocking(move || transfer::prepare(&path))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()));
                    let _ = tx.send(Internal::Prepared(r));
                });
            }
            UserCommand::AcceptFile {
                id,
                path,
                overwrite,
            } => self.accept(id, path, overwrite).await,
            UserCommand::RefuseFile(id) => match self.offers.remove(&id) {
                Some((name, size, _)) => {
                    self.incoming.forget(id);
                    self.send(ControlMessage::FileRefuse { id }).await;
                    self.finished(id, true, &name, size, "refused", None);
                }
                None => self.notice(format!("no file offer {id} is waiting")),
            },
            UserCommand::CancelFile(id) => {
                if let Some(r) = self.receiving.remove(&id) {
                    self.incoming.forget(id);
                    drop(r.file);
                    let _ = std::fs::remove_file(&r.path);
                    self.send(ControlMessage::FileCancel { id }).await;
                    self.finished(id, true, &r.name, r.size, "cancelled by the customer", None);
                } else if self.outgoing.state(id).is_some() {
                    if let Some(m) = self.outgoing.cancel(id) {
                        self.send(m).await;
                        if let Some(f) = self.outgoing.finished(id) {
                            self.finished(
                                id,
                                false,
                                f.name.as_str(),
                                f.size,
                                "cancelled by the customer",
                                None,
                            );
                        }
                    }
                    // A file being sent stops at its next chunk (see `internal`).
                } else {
                    self.notice(format!("no file transfer {id}"));
                }
            }
        }
    }

    async fn accept(&mut self, id: u32, path: PathBuf, overwrite: bool) {
        let Some((name, size, digest)) = self.offers.get(&id).cloned() else {
            self.notice(format!("no file offer {id} is waiting"));
            return;
        };
        let path = if path.is_dir() {
            path.join(&name)
        } else {
            path
        };
        let file = match create_received_file(&path, overwrite) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.notice(format!(
                    "{} already exists: choose another name, or confirm that it may be replaced",
                    path.display()
                ));
                return;
            }
            Err(e) => {
                self.notice(format!("cannot save to {}: {e}", path.display()));
                return;
            }
        };
        if self.incoming.accept(id).is_err() {
            drop(file);
            let _ = std::fs::remove_file(&path);
            self.offers.remove(&id);
            self.notice(format!("file offer {id} was withdrawn"));
            return;
        }
        self.offers.remove(&id);
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
        self.send(ControlMessage::FileAccept { id }).await;
        self.emit(AppEvent::FileProgress {
            id,
            incoming: true,
            done: 0,
            size,
        });
    }

    /// Handles a control message from the technician (not `SessionEnd`).
    pub async fn control_message(&mut self, msg: ControlMessage) {
        let digest = match &msg {
            ControlMessage::FileOffer { blake2s, .. } => transfer::digest_hex(blake2s),
            _ => String::new(),
        };
        match &msg {
            ControlMessage::Chat { text } => {
                self.journal.chat(&self.technician, text);
                self.emit(AppEvent::Chat {
                    from_technician: true,
                    text: text.clone(),
                    time: clock(),
                });
                return;
            }
            ControlMessage::FileAccept { .. }
            | ControlMessage::FileRefuse { .. }
            | ControlMessage::FileCancel { .. }
            | ControlMessage::FileAck { .. } => {
                if let Some(ev) = self.outgoing.handle(&msg) {
                    self.outgoing_event(ev);
                    return;
                }
            }
            _ => {}
        }
        match self.incoming.handle(&msg) {
            Ok(Some(ev)) => self.incoming_event(ev, digest).await,
            Ok(None) => {}
            Err(e) => self.incoming_error(&msg, e).await,
        }
    }

    fn outgoing_event(&mut self, ev: OutgoingEvent) {
        match ev {
            OutgoingEvent::Accepted(id, file, cancel, acks) => {
                let Some(ctl) = self.ctl.clone() else { return };
                let tx = self.internal_tx.clone();
                let size = file.size;
                self.emit(AppEvent::FileProgress {
                    id,
                    incoming: false,
                    done: 0,
                    size,
                });
                tokio::spawn(async move {
                    let last = Mutex::new(Instant::now());
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
            OutgoingEvent::Refused(id, f) => self.finished(
                id,
                false,
                f.name.as_str(),
                f.size,
                "refused by the technician",
                None,
            ),
            OutgoingEvent::Cancelled(id, f) => self.finished(
                id,
                false,
                f.name.as_str(),
                f.size,
                "cancelled by the technician",
                None,
            ),
        }
    }

    async fn incoming_event(&mut self, ev: TransferEvent, digest: String) {
        match ev {
            TransferEvent::Offered { id, name, size } => {
                self.offers.insert(id, (name.to_string(), size, digest));
                self.emit(AppEvent::FileOffered {
                    id,
                    name: name.to_string(),
                    size,
                });
            }
            TransferEvent::Data { id, data } => {
                let Some(r) = self.receiving.get_mut(&id) else {
                    return;
                };
                if let Err(e) = r.file.write_all(&data) {
                    let r = self.receiving.remove(&id);
                    self.incoming.forget(id);
                    self.send(ControlMessage::FileCancel { id }).await;
                    if let Some(r) = r {
                        drop(r.file);
                        let _ = std::fs::remove_file(&r.path);
                        self.finished(id, true, &r.name, r.size, &format!("failed: {e}"), None);
                    }
                    return;
                }
                r.done += data.len() as u64;
                let report = r.reported.elapsed() >= PROGRESS_EVERY;
                if report {
                    r.reported = Instant::now();
                }
                let (done, size) = (r.done, r.size);
                // Flow control: the sender waits for these acks.
                if let Some(ack) = self.incoming.written(id, data.len() as u64) {
                    self.send(ack).await;
                }
                if report {
                    self.emit(AppEvent::FileProgress {
                        id,
                        incoming: true,
                        done,
                        size,
                    });
                }
            }
            TransferEvent::Complete { id, .. } => {
                if let Some(r) = self.receiving.remove(&id) {
                    let ok = r.file.sync_all();
                    let outcome = match ok {
                        Ok(()) => format!("done: saved as {}", r.path.display()),
                        Err(e) => format!("failed: {e}"),
                    };
                    let hash = (!r.digest.is_empty()).then(|| r.digest.clone());
                    self.finished(id, true, &r.name, r.size, &outcome, hash);
                }
            }
            TransferEvent::Cancelled { id } => {
                if let Some(r) = self.receiving.remove(&id) {
                    drop(r.file);
                    let _ = std::fs::remove_file(&r.path);
                    self.finished(
                        id,
                        true,
                        &r.name,
                        r.size,
                        "cancelled by the technician",
                        None,
                    );
                } else if let Some((name, size, _)) = self.offers.remove(&id) {
                    self.finished(id, true, &name, size, "withdrawn by the technician", None);
                }
            }
        }
    }

    async fn incoming_error(&mut self, msg: &ControlMessage, e: TransferError) {
        if let ControlMessage::FileOffer { id, .. } | ControlMessage::UnsafeFileOffer { id, .. } =
            msg
        {
            // Nothing was written: the offer is refused, the session goes on.
            self.send(ControlMessage::FileRefuse { id: *id }).await;
            self.notice(format!("a file from the technician was refused: {e}"));
            return;
        }
        let id = match msg {
            ControlMessage::FileChunk { id, .. }
            | ControlMessage::FileDone { id }
            | ControlMessage::FileCancel { id } => *id,
            _ => return,
        };
        self.incoming.forget(id);
        if let Some(r) = self.receiving.remove(&id) {
            drop(r.file);
            let _ = std::fs::remove_file(&r.path);
            self.send(ControlMessage::FileCancel { id }).await;
            self.finished(id, true, &r.name, r.size, &format!("failed: {e}"), None);
        }
    }

    /// Handles progress from the customer's sending tasks.
    pub async fn internal(&mut self, i: Internal) {
        match i {
            Internal::Prepared(Err(e)) => self.notice(format!("cannot send the file: {e}")),
            Internal::Prepared(Ok(file)) => {
                let (name, size) = (file.name.to_string(), file.size);
                let digest = transfer::digest_hex(&file.digest);
                let (id, offer) = self.outgoing.offer(file);
                self.send(offer).await;
                self.notice(format!(
                    "offered {name} ({size} bytes, blake2s {digest}) to the technician as file {id}"
                ));
            }
            Internal::Progress { id, done, size } => self.emit(AppEvent::FileProgress {
                id,
                incoming: false,
                done,
                size,
            }),
            Internal::Sent { id, result } => {
                let Some(f) = self.outgoing.finished(id) else {
                    return; // already reported (refused or cancelled by the technician)
                };
                let hash = Some(transfer::digest_hex(&f.digest));
                match result {
                    Ok(()) => {
                        self.emit(AppEvent::FileProgress {
                            id,
                            incoming: false,
                            done: f.size,
                            size: f.size,
                        });
                        self.finished(id, false, f.name.as_str(), f.size, "done", hash)
                    }
                    Err(e) if e == "cancelled" => self.finished(
                        id,
                        false,
                        f.name.as_str(),
                        f.size,
                        "cancelled by the customer",
                        None,
                    ),
                    Err(e) => self.finished(
                        id,
                        false,
                        f.name.as_str(),
                        f.size,
                        &format!("failed: {e}"),
                        None,
                    ),
                }
            }
        }
    }

    /// Stops every outgoing transfer (the session is closing).
    pub fn stop_all(&mut self) {
        for id in self.outgoing.ids() {
            // Offers are dropped; running sends stop at their next chunk.
            self.outgoing.cancel(id);
        }
    }

    /// Deletes files still being received (the session ended).
    pub fn abort_incoming(&mut self) {
        for (id, r) in self.receiving.drain() {
            drop(r.file);
            let _ = std::fs::remove_file(&r.path);
            self.journal.file(
                FileRecord {
                    name: r.name.clone(),
                    size: r.size,
                    to_customer: true,
                    outcome: "failed: the session ended".into(),
                },
                None,
            );
            (self.events)(AppEvent::FileFinished {
                id,
                incoming: true,
                name: r.name,
                outcome: "failed: the session ended".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_commands() {
        let p = |s: &str| UserCommand::parse_console(s);
        assert_eq!(
            p("chat  ciao  a tutti").unwrap(),
            Some(UserCommand::Chat("ciao  a tutti".into()))
        );
        assert_eq!(
            p("accept-file 3 /tmp/my file.txt").unwrap(),
            Some(UserCommand::AcceptFile {
                id: 3,
                path: "/tmp/my file.txt".into(),
                overwrite: false
            })
        );
        assert_eq!(
            p("refuse-file 9").unwrap(),
            Some(UserCommand::RefuseFile(9))
        );
        assert_eq!(
            p("share-window 0x1a00003").unwrap(),
            Some(UserCommand::Share(ShareMode::Window(0x1a0_0003)))
        );
        assert_eq!(
            p("share-monitor 1").unwrap(),
            Some(UserCommand::Share(ShareMode::Monitor(1)))
        );
        assert_eq!(
            p("pause").unwrap(),
            Some(UserCommand::Share(ShareMode::Paused))
        );
        assert_eq!(
            p("resume").unwrap(),
            Some(UserCommand::Share(ShareMode::All))
        );
        assert_eq!(p("allow").unwrap(), None);
        assert!(p("chat").is_err());
        assert!(p("accept-file 3").is_err());
        assert!(p("refuse-file x").is_err());
        assert!(p("share-window zz").is_err());
    }
}
