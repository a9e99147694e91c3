//! What the listener tells the technician, and what it reads back from
//! stdin: JSON-line events (headless mode) or readable lines (window mode),
//! PNG snapshots written atomically, rate limits and the stdin commands.
//!
//! # Events (headless mode, one JSON object per stdout line)
//!
//! ```text
//! {"event":"listening","addr":"127.0.0.1:5500"}
//! {"event":"session_code","code":"123456"}
//! {"event":"incoming","session":1,"peer":"127.0.0.1:40000","mode":"crypto","sas":"123 456","customer":{…}}
//! {"event":"pending","session":1}
//! {"event":"connected","session":1,"width":1024,"height":768,"name":"x11vnc"}
//! {"event":"update","session":1}
//! {"event":"control","session":1,"allowed":true}
//! {"event":"quality","session":1,"quality":"low"}
//! {"event":"chat","session":1,"from":"customer","time":"10:00:00","text":"hello"}
//! {"event":"system_info","session":1,"info":{"os":"linux (…)","screen":"1024x768"}}
//! {"event":"sharing","session":1,"state":"paused"}
//! {"event":"file_offered","session":1,"id":2147483649,"name":"report.pdf","size":1234}
//! {"event":"file_progress","session":1,"id":1,"direction":"to_customer","done":16384,"size":50000}
//! {"event":"file_finished","session":1,"id":1,"direction":"to_customer","name":"a.txt","size":3,"outcome":"done","path":null,"hash":"…"}
//! {"event":"note","session":1,"text":"ticket 1234: printer fixed"}
//! {"event":"ended","session":1,"reason":"the customer closed the connection"}
//! {"event":"rejected","peer":"127.0.0.1:40001","reason":"…"}
//! {"event":"error","message":"…"}
//! ```
//!
//! # Commands (stdin, one per line)
//!
//! `accept N`, `refuse N [reason]`, `key N KEYSYM [down|up]` (without
//! `down`/`up`: press then release; KEYSYM decimal or `0x…`),
//! `pointer N MASK X Y`, `type N TEXT` (press and release per character),
//! `clip N TEXT` (clipboard), `close N`, `code` (a new one-time session code),
//! `quality N LEVEL` (auto, lossless, high, medium, low: see
//! [`crate::quality`]), `chat N TEXT`, `send N PATH` (offer a file to the
//! customer), `accept-file N ID` / `refuse-file N ID` (a file the customer
//! offers; accepted files are saved under the log directory's `files/`),
//! `cancel-file N ID`, `note N TEXT` (a session note in the log).

use crate::recording::{RecordingError, write_png};
use rfb::Framebuffer;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One event for the technician (see the module doc for the JSON form).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The listener is bound.
    Listening {
        /// The bound address.
        addr: String,
    },
    /// A one-time session code to read out to the customer.
    SessionCode {
        /// Six digits.
        code: String,
    },
    /// A connection was identified (clear) or authenticated (crypto).
    Incoming {
        /// Session number.
        session: u64,
        /// The peer's address.
        peer: String,
        /// `"crypto"` or `"clear"`.
        mode: &'static str,
        /// The short authentication code (crypto only).
        sas: Option<String>,
        /// The customer hello (crypto only).
        customer: Option<serde_json::Value>,
    },
    /// The session waits for `accept N` / `refuse N`.
    Pending {
        /// Session number.
        session: u64,
    },
    /// The RFB handshake finished.
    Connected {
        /// Session number.
        session: u64,
        /// Framebuffer width.
        width: u16,
        /// Framebuffer height.
        height: u16,
        /// Desktop name.
        name: String,
    },
    /// The framebuffer changed (rate-limited).
    Update {
        /// Session number.
        session: u64,
    },
    /// The framebuffer changed size.
    Resized {
        /// Session number.
        session: u64,
        /// New width.
        width: u16,
        /// New height.
        height: u16,
    },
    /// The customer allowed or revoked control.
    Control {
        /// Session number.
        session: u64,
        /// True when the technician's input is applied.
        allowed: bool,
    },
    /// The session switched picture quality (a new SetEncodings was sent).
    Quality {
        /// Session number.
        session: u64,
        /// The level (`auto`, `lossless`, `high`, `medium`, `low`).
        quality: String,
    },
    /// A chat line (from the customer, or echoed when the technician sent it).
    Chat {
        /// Session number.
        session: u64,
        /// `customer` or `technician`.
        from: String,
        /// UTC time of day, `HH:MM:SS`.
        time: String,
        /// The text.
        text: String,
    },
    /// What the customer's Remoto said about the computer (only what the
    /// customer agreed to share, exactly as the customer was shown).
    SystemInfo {
        /// Session number.
        session: u64,
        /// Field → text.
        info: std::collections::BTreeMap<String, String>,
    },
    /// The customer changed what is shared (`all`, `paused`, `window …`, `monitor N`).
    Sharing {
        /// Session number.
        session: u64,
        /// The new state.
        state: String,
    },
    /// The customer offers a file: `accept-file N ID` or `refuse-file N ID`.
    FileOffered {
        /// Session number.
        session: u64,
        /// Transfer id.
        id: u32,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// A transfer made progress.
    FileProgress {
        /// Session number.
        session: u64,
        /// Transfer id.
        id: u32,
        /// `to_customer` or `from_customer`.
        direction: &'static str,
        /// Bytes so far.
        done: u64,
        /// Total bytes.
        size: u64,
    },
    /// A transfer ended.
    FileFinished {
        /// Session number.
        session: u64,
        /// Transfer id.
        id: u32,
        /// `to_customer` or `from_customer`.
        direction: &'static str,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
        /// `done`, `refused`, `cancelled…`, `failed: …`.
        outcome: String,
        /// Where a received file was saved.
        path: Option<String>,
        /// BLAKE2s-256 (hex) of a completed file.
        hash: Option<String>,
    },
    /// A session note was added to the log.
    Note {
        /// Session number.
        session: u64,
        /// The note.
        text: String,
    },
    /// Clipboard text from the customer.
    Clipboard {
        /// Session number.
        session: u64,
        /// The text.
        text: String,
    },
    /// The session ended.
    Ended {
        /// Session number.
        session: u64,
        /// Why.
        reason: String,
    },
    /// A connection was turned away before a session started.
    Rejected {
        /// The peer's address.
        peer: String,
        /// Why.
        reason: String,
    },
    /// Something went wrong that does not end the listener.
    Error {
        /// What.
        message: String,
    },
}

impl Event {
    /// A one-line readable form (window mode, on stderr).
    pub fn human(&self) -> String {
        match self {
            Event::Listening { addr } => format!("listening on {addr}"),
            Event::SessionCode { code } => format!("one-time session code: {code}"),
            Event::Incoming {
                session,
                peer,
                mode,
                sas,
                customer,
            } => {
                let sas = sas.as_deref().unwrap_or("none (CLEAR, not encrypted)");
                let customer = customer
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into());
                format!(
                    "session {session}: {mode} connection from {peer}, SAS {sas}, customer {customer}"
                )
            }
            Event::Pending { session } => {
                format!("session {session}: type `accept {session}` or `refuse {session} [reason]`")
            }
            Event::Connected {
                session,
                width,
                height,
                name,
            } => format!("session {session}: connected to {name:?} ({width}x{height})"),
            Event::Update { session } => format!("session {session}: update"),
            Event::Resized {
                session,
                width,
                height,
            } => format!("session {session}: resized to {width}x{height}"),
            Event::Control { session, allowed } => format!(
                "session {session}: control {}",
                if *allowed { "allowed" } else { "revoked" }
            ),
            Event::Quality { session, quality } => format!("session {session}: quality {quality}"),
            Event::Chat {
                session,
                from,
                time,
                text,
            } => format!("session {session}: {time} {from} says {text:?}"),
            Event::SystemInfo { session, info } => {
                let v: Vec<String> = info.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("session {session}: system information: {}", v.join("; "))
            }
            Event::Sharing { session, state } => format!("session {session}: sharing {state}"),
            Event::FileOffered {
                session,
                id,
                name,
                size,
            } => format!(
                "session {session}: the customer offers {name:?} ({size} bytes): `accept-file {session} {id}` or `refuse-file {session} {id}`"
            ),
            Event::FileProgress {
                session,
                id,
                direction,
                done,
                size,
            } => format!("session {session}: file {id} {direction}: {done}/{size} bytes"),
            Event::FileFinished {
                session,
                id,
                direction,
                name,
                outcome,
                ..
            } => format!("session {session}: file {id} {direction} {name:?}: {outcome}"),
            Event::Note { session, text } => format!("session {session}: note {text:?}"),
            Event::Clipboard { session, text } => {
                format!(
                    "session {session}: clipboard ({} characters)",
                    text.chars().count()
                )
            }
            Event::Ended { session, reason } => format!("session {session}: ended: {reason}"),
            Event::Rejected { peer, reason } => format!("rejected {peer}: {reason}"),
            Event::Error { message } => format!("error: {message}"),
        }
    }
}

/// Prints events: JSON lines on stdout (headless) or readable lines on stderr.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    lock: Mutex<()>,
}

impl Reporter {
    /// A reporter printing JSON lines (`json`) or readable text.
    pub fn new(json: bool) -> Self {
        Reporter {
            json,
            lock: Mutex::new(()),
        }
    }

    /// True in headless (JSON) mode.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints one event (whole lines only, even from many tasks).
    pub fn emit(&self, event: &Event) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        } else if !matches!(event, Event::Update { .. }) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", event.human());
        }
    }
}

/// Lets something happen at most once per interval.
#[derive(Debug, Clone)]
pub struct RateLimit {
    every: Duration,
    last: Option<Instant>,
}

impl RateLimit {
    /// At most once per `every`.
    pub fn new(every: Duration) -> Self {
        RateLimit { every, last: None }
    }

    /// True (and counts it) when allowed at `now`.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }

    /// When the next call to [`allow`](Self::allow) will succeed.
    pub fn next_allowed(&self) -> Option<Instant> {
        self.last.map(|l| l + self.every)
    }
}

/// The snapshot path of a session: `dir/session-N.png`.
pub fn snapshot_path(dir: &Path, session: u64) -> PathBuf {
    dir.join(format!("session-{session}.png"))
}

/// Writes `fb` as a PNG at `path` atomically: into a temporary file in the
/// same directory, then renamed, so readers never see a partial file.
pub fn write_snapshot(fb: &Framebuffer, path: &Path) -> Result<(), RecordingError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot.png".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    if let Err(e) = write_png(fb, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        RecordingError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

/// A command typed on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Accept a pending session.
    Accept(u64),
    /// Refuse a pending session.
    Refuse(u64, String),
    /// A key event; `None`: press then release.
    Key(u64, u32, Option<bool>),
    /// A pointer event.
    Pointer(u64, u8, u16, u16),
    /// Type text (press and release per character).
    Type(u64, String),
    /// Send clipboard text.
    Clip(u64, String),
    /// End a session.
    Close(u64),
    /// Issue a new one-time session code.
    Code,
    /// Something for one session (chat, files, notes).
    Session(u64, crate::session::SessionCommand),
    /// Switch a session's picture quality.
    Quality(u64, crate::quality::Quality),
}

/// Why a command line was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Unknown verb.
    #[error(
        "unknown command {0:?} (accept, refuse, key, pointer, type, clip, close, code, quality, chat, send, accept-file, refuse-file, cancel-file, note)"
    )]
    Unknown(String),
    /// Missing or bad argument.
    #[error("{verb}: bad or missing {what}")]
    Argument {
        /// The command.
        verb: &'static str,
        /// Which argument.
        what: &'static str,
    },
}

fn parse_num<T: TryFrom<u64>>(
    s: Option<&str>,
    verb: &'static str,
    what: &'static str,
) -> Result<T, CommandError> {
    let err = CommandError::Argument { verb, what };
    let s = s.ok_or(err.clone())?;
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse::<u64>(),
    }
    .map_err(|_| err.clone())?;
    T::try_from(v).map_err(|_| err)
}

/// The text after the first `n` words of `line` (separated by single spaces
/// or runs of blanks), with its own spaces kept.
fn rest_after(line: &str, n: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..n {
        match rest.find(char::is_whitespace) {
            Some(i) => rest = rest[i..].trim_start_matches([' ', '\t']),
            None => return "",
        }
    }
    rest
}

fn parse_text_command(
    line: &str,
    verb: &str,
    session: Option<&str>,
) -> Result<Command, CommandError> {
    use crate::session::SessionCommand;
    let verb: &'static str = match verb {
        "chat" => "chat",
        "note" => "note",
        _ => "send",
    };
    let n = parse_num(session, verb, "session")?;
    let text = rest_after(line, 2);
    if text.trim().is_empty() {
        return Err(CommandError::Argument {
            verb,
            what: if verb == "send" { "path" } else { "text" },
        });
    }
    Ok(Command::Session(
        n,
        match verb {
            "chat" => SessionCommand::Chat(text.to_owned()),
            "note" => SessionCommand::Note(text.to_owned()),
            _ => SessionCommand::SendFile(PathBuf::from(text.trim())),
        },
    ))
}

fn parse_file_command(
    verb: &str,
    session: Option<&str>,
    id: Option<&str>,
) -> Result<Command, CommandError> {
    use crate::session::SessionCommand;
    let verb: &'static str = match verb {
        "accept-file" => "accept-file",
        "refuse-file" => "refuse-file",
        _ => "cancel-file",
    };
    let n = parse_num(session, verb, "session")?;
    let id = parse_num(id, verb, "transfer id")?;
    Ok(Command::Session(
        n,
        match verb {
            "accept-file" => SessionCommand::AcceptFile(id),
            "refuse-file" => SessionCommand::RefuseFile(id),
            _ => SessionCommand::CancelFile(id),
        },
    ))
}

impl Command {
    /// Parses one stdin line; `Ok(None)` for a blank line.
    pub fn parse(line: &str) -> Result<Option<Command>, CommandError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let mut words = line.split_whitespace();
        let Some(verb) = words.next() else {
            return Ok(None);
        };
        let cmd =
            match verb {
                "accept" => Command::Accept(parse_num(words.next(), "accept", "session")?),
                "refuse" => {
                    let n = parse_num(words.next(), "refuse", "session")?;
                    let reason = rest_after(line, 2).trim();
                    let reason = if reason.is_empty() {
                        "refused by the technician"
                    } else {
                        reason
                    };
                    Command::Refuse(n, reason.to_owned())
                }
                "key" => {
                    let n = parse_num(words.next(), "key", "session")?;
                    let k = parse_num(words.next(), "key", "keysym")?;
                    let dir = match words.next() {
                        None => None,
                        Some("down") => Some(true),
                        Some("up") => Some(false),
                        Some(_) => {
                            return Err(CommandError::Argument {
                                verb: "key",
                                what: "direction (down|up)",
                            });
                        }
                    };
                    Command::Key(n, k, dir)
                }
                "pointer" => Command::Pointer(
                    parse_num(words.next(), "pointer", "session")?,
                    parse_num(words.next(), "pointer", "mask")?,
                    parse_num(words.next(), "pointer", "x")?,
                    parse_num(words.next(), "pointer", "y")?,
                ),
                "type" => {
                    let n = parse_num(words.next(), "type", "session")?;
                    Command::Type(n, rest_after(line, 2).to_owned())
                }
                "clip" => {
                    let n = parse_num(words.next(), "clip", "session")?;
                    Command::Clip(n, rest_after(line, 2).to_owned())
                }
                "close" => Command::Close(parse_num(words.next(), "close", "session")?),
                "code" => Command::Code,
                "chat" | "note" | "send" => parse_text_command(line, verb, words.next())?,
                "accept-file" | "refuse-file" | "cancel-file" => {
                    parse_file_command(verb, words.next(), words.next())?
                }
                "quality" => {
                    let n = parse_num(words.next(), "quality", "session")?;
                    let q = words.next().and_then(|w| w.parse().ok()).ok_or(
                        CommandError::Argument {
                            verb: "quality",
                            what: "level (auto|lossless|high|medium|low)",
                        },
                    )?;
                    Command::Quality(n, q)
                }
                other => return Err(CommandError::Unknown(other.to_owned())),
            };
        Ok(Some(cmd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            Command::parse("accept 3").unwrap(),
            Some(Command::Accept(3))
        );
        assert_eq!(
            Command::parse("refuse 2 not now, sorry").unwrap(),
            Some(Command::Refuse(2, "not now, sorry".into()))
        );
        assert_eq!(
            Command::parse("refuse 2").unwrap(),
            Some(Command::Refuse(2, "refused by the technician".into()))
        );
        assert_eq!(
            Command::parse("key 1 0xff0d").unwrap(),
            Some(Command::Key(1, 0xff0d, None))
        );
        assert_eq!(
            Command::parse("key 1 97 down").unwrap(),
            Some(Command::Key(1, 97, Some(true)))
        );
        assert_eq!(
            Command::parse("pointer 1 1 10 20").unwrap(),
            Some(Command::Pointer(1, 1, 10, 20))
        );
        assert_eq!(
            Command::parse("type 4 hello  world").unwrap(),
            Some(Command::Type(4, "hello  world".into()))
        );
        assert_eq!(Command::parse("close 9").unwrap(), Some(Command::Close(9)));
        assert_eq!(Command::parse("code").unwrap(), Some(Command::Code));
        assert_eq!(
            Command::parse("quality 2 low").unwrap(),
            Some(Command::Quality(2, crate::quality::Quality::Low))
        );
        assert!(Command::parse("quality 2 best").is_err());
        assert_eq!(Command::parse("  ").unwrap(), None);
        assert!(Command::parse("pointer 1 300 1 1").is_err());
        assert!(Command::parse("key x 1").is_err());
        assert!(Command::parse("launch 1").is_err());
    }

    #[test]
    fn events_serialize_as_documented() {
        let e = Event::Incoming {
            session: 1,
            peer: "127.0.0.1:1".into(),
            mode: "clear",
            sas: None,
            customer: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"incoming","session":1,"peer":"127.0.0.1:1","mode":"clear","sas":null,"customer":null}"#
        );
        let e = Event::Control {
            session: 2,
            allowed: true,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"control","session":2,"allowed":true}"#
        );
    }

    #[test]
    fn rate_limit() {
        let mut r = RateLimit::new(Duration::from_millis(200));
        let t = Instant::now();
        assert!(r.allow(t));
        assert!(!r.allow(t + Duration::from_millis(100)));
        assert!(r.allow(t + Duration::from_millis(250)));
    }

    #[test]
    fn snapshot_is_atomic_png() {
        let dir = tempfile::tempdir().unwrap();
        let mut fb = Framebuffer::new(4, 2).unwrap();
        fb.fill(rfb::Rect::new(0, 0, 4, 2), 0x3366cc);
        let p = snapshot_path(dir.path(), 7);
        write_snapshot(&fb, &p).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("session-7.png")]);
    }
}

#[cfg(test)]
mod feature_command_tests {
    use super::*;
    use crate::session::SessionCommand;

    #[test]
    fn parses_chat_file_and_note_commands() {
        assert_eq!(
            Command::parse("chat 2 ciao,  come va?").unwrap(),
            Some(Command::Session(
                2,
                SessionCommand::Chat("ciao,  come va?".into())
            ))
        );
        assert_eq!(
            Command::parse("send 1 /tmp/a b.txt").unwrap(),
            Some(Command::Session(
                1,
                SessionCommand::SendFile("/tmp/a b.txt".into())
            ))
        );
        assert_eq!(
            Command::parse("accept-file 1 2147483649").unwrap(),
            Some(Command::Session(1, SessionCommand::AcceptFile(2147483649)))
        );
        assert_eq!(
            Command::parse("note 3 ticket 42").unwrap(),
            Some(Command::Session(
                3,
                SessionCommand::Note("ticket 42".into())
            ))
        );
        assert!(Command::parse("chat 1").is_err());
        assert!(Command::parse("refuse-file 1").is_err());
    }
}
