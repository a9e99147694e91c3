//! The customer's record of a session and the only two places where Remoto
//! writes a file, both at the customer's explicit request:
//!
//! - [`save_log`]: "Save log" on the summary screen (or `--save-log PATH`);
//! - [`create_received_file`]: a file the technician sent, after the
//!   customer accepted it and chose where to save it.
//!
//! The journal is kept in memory in the viewer's hash-chained JSON-lines
//! format ([`crypto::log`]), so `viewer log verify` checks a saved log.

use crypto::log::{Direction, Event, LogWriter};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One file of the session, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// True when the technician sent it to the customer.
    pub to_customer: bool,
    /// `done`, `refused`, `cancelled`, `failed: …`.
    pub outcome: String,
}

/// What the end-of-session summary shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// When the session started (RFC 3339, UTC).
    pub started_at: String,
    /// Whether control was ever granted.
    pub control_granted: bool,
    /// How long control was granted in total.
    pub control_time: Duration,
    /// Chat lines both ways.
    pub chats: usize,
    /// Files both ways.
    pub files: Vec<FileRecord>,
    /// The finished log (hash-chained JSON lines), for "Save log".
    pub log: Vec<u8>,
}

struct Inner {
    log: LogWriter<Vec<u8>>,
    control_since: Option<Instant>,
    control_time: Duration,
    control_granted: bool,
    chats: usize,
    files: Vec<FileRecord>,
    started_at: String,
}

/// The session journal, shared by the session loop and the control watcher.
#[derive(Clone)]
pub struct Journal(Arc<Mutex<Inner>>);

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Journal")
    }
}

impl Journal {
    /// Starts the journal with its `session_start` record.
    pub fn start(
        technician: &str,
        customer: BTreeMap<String, String>,
        sas: Option<String>,
        source: &str,
        encrypted: bool,
    ) -> Self {
        let mut log = LogWriter::new(Vec::new());
        let started_at = log
            .append(Event::SessionStart {
                technician: technician.into(),
                customer,
                sas,
                source: source.into(),
                mode: if encrypted { "crypto" } else { "clear" }.into(),
            })
            .map(|r| r.ts.clone())
            .unwrap_or_default();
        Journal(Arc::new(Mutex::new(Inner {
            log,
            control_since: None,
            control_time: Duration::ZERO,
            control_granted: false,
            chats: 0,
            files: Vec::new(),
            started_at,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Control granted or revoked.
    pub fn consent(&self, on: bool) {
        self.with(|i| {
            // Writing to memory cannot fail; a finished log ignores late events.
            let _ = i.log.append(Event::Consent { control: on });
            match (on, i.control_since) {
                (true, None) => {
                    i.control_since = Some(Instant::now());
                    i.control_granted = true;
                }
                (false, Some(since)) => {
                    i.control_time += since.elapsed();
                    i.control_since = None;
                }
                _ => {}
            }
        });
    }

    /// A chat line (`from`: `customer` or the technician's id).
    pub fn chat(&self, from: &str, text: &str) {
        self.with(|i| {
            i.chats += 1;
            let _ = i.log.append(Event::Chat {
                from: from.into(),
                text: text.into(),
            });
        });
    }

    /// A file transfer ended.
    pub fn file(&self, rec: FileRecord, hash: Option<String>) {
        self.with(|i| {
            let _ = i.log.append(Event::File {
                name: rec.name.clone(),
                size: rec.size,
                direction: if rec.to_customer {
                    Direction::ToCustomer
                } else {
                    Direction::FromCustomer
                },
                hash,
                outcome: rec.outcome.clone(),
            });
            i.files.push(rec);
        });
    }

    /// The shared area changed.
    pub fn sharing(&self, state: &str) {
        self.with(|i| {
            let _ = i.log.append(Event::Sharing {
                state: state.into(),
            });
        });
    }

    /// Writes `session_end` and returns the summary with the finished log.
    /// `from_technician` / `to_technician`: bytes received and sent.
    pub fn finish(&self, reason: &str, from_technician: u64, to_technician: u64) -> Summary {
        self.with(|i| {
            if let Some(since) = i.control_since.take() {
                i.control_time += since.elapsed();
            }
            // The viewer's fields are named from the technician's side.
            i.log.set_bytes(from_technician, to_technician);
            if !i.log.is_finished() {
                let _ = i.log.finish(reason);
            }
            Summary {
                started_at: i.started_at.clone(),
                control_granted: i.control_granted,
                control_time: i.control_time,
                chats: i.chats,
                files: i.files.clone(),
                log: i.log.get_ref().clone(),
            }
        })
    }
}

/// Writes the saved log to `path`, where the customer chose. Never replaces
/// an existing file unless `overwrite` (the customer confirmed).
///
/// This and [`create_received_file`] are the only places where Remoto
/// creates files (see `remoto/clippy.toml`).
pub fn save_log(path: &Path, log: &[u8], overwrite: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = open_for_writing(path, overwrite)?;
    f.write_all(log)?;
    f.sync_all()
}

/// Creates the file where the customer chose to save a file the technician
/// sent (after "Accept"); never replaces an existing file unless `overwrite`.
pub fn create_received_file(path: &Path, overwrite: bool) -> std::io::Result<std::fs::File> {
    open_for_writing(path, overwrite)
}

fn open_for_writing(path: &Path, overwrite: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    if overwrite {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_summary_and_verifiable_log() {
        let j = Journal::start("Verde", BTreeMap::new(), Some("1 2".into()), "x:1", true);
        j.consent(true);
        j.chat("customer", "ciao");
        j.chat("Verde", "salve");
        j.consent(false);
        j.file(
            FileRecord {
                name: "a.txt".into(),
                size: 3,
                to_customer: true,
                outcome: "done".into(),
            },
            Some("00".repeat(32)),
        );
        j.sharing("paused");
        let s = j.finish("closed", 10, 20);
        assert!(s.control_granted);
        assert_eq!(s.chats, 2);
        assert_eq!(s.files.len(), 1);
        let (records, report) = crypto::log::verify_bytes(&s.log).unwrap();
        assert!(report.terminated);
        assert_eq!(records.len(), 8);
        // Late events after the end are ignored, finishing twice is harmless.
        j.chat("customer", "late");
        assert_eq!(j.finish("again", 0, 0).log, s.log);
        let p = std::env::temp_dir().join(format!("remoto-log-test-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&p);
        save_log(&p, &s.log, false).unwrap();
        assert_eq!(
            save_log(&p, &s.log, false).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        save_log(&p, b"x", true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
        std::fs::remove_file(&p).unwrap();
    }
}
