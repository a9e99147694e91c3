//! The session-log format shared by both sides: hash-chained JSON lines.
//!
//! The technician's viewer writes one file per session (`viewer/src/log.rs`
//! wraps this in its `SessionLog`); the customer's Remoto keeps the same
//! records in memory and writes them only when the customer presses
//! "Save log", so `viewer log verify` checks both.
//!
//! Tamper-evident session logs: one JSON-lines file per session.
//!
//! # Format
//!
//! Each line is one record, a compact JSON object ending in `\n`, whose keys
//! come in this order:
//!
//! ```text
//! {"seq":0,"ts":"2026-11-03T10:00:00.123Z","kind":"session_start",…data…,"prev":"00…00","hash":"…"}
//! ```
//!
//! - `seq`: 0 for the first record, then +1 per record;
//! - `ts`: when the record was written, RFC 3339, UTC;
//! - `kind` and the data fields: one [`Event`] (`session_start`, `consent`,
//!   `chat`, `file`, `sharing`, `note`, `bytes`, `session_end`);
//! - `prev`: the `hash` of the previous line in lowercase hex (64 zeros for
//!   the first record);
//! - `hash`: lowercase hex of BLAKE2s-256 over `prev ‖ body`, where `prev` is
//!   the 32 raw bytes of the previous hash (32 zero bytes for the first
//!   record) and `body` is the exact bytes of the line without its
//!   `,"hash":"…"` member, i.e. the line up to the last `,"hash":` followed
//!   by `}`.
//!
//! Because the hash covers the exact bytes of the line, [`verify`] detects any
//! edited byte; because every line names the hash of the one before and
//! carries its position (`seq`), deleted, inserted or swapped lines break the
//! chain; a last line cut in the middle is reported as truncated. A log whose
//! chain is intact but whose last record is not `session_end` is *not*
//! reported as tampered: [`VerifyReport::terminated`] is false and the
//! summary says "log ends without session_end" (the viewer crashed, or the
//! tail was cut at a line boundary).
//!
//! The chain is not keyed: someone who rewrites a record and recomputes every
//! later hash produces a log that verifies. The last hash ([`VerifyReport::head`],
//! returned by [`SessionLog::finish`]) is therefore printed in the ticket
//! report, so it can be copied into the help-desk ticket and compared later.
//!
//! # Writers
//!
//! [`SessionLog`] writes the technician's file (created with `create_new`,
//! written and flushed record by record, so that a crash loses nothing that
//! was appended). [`LogWriter`] is the same format over any [`io::Write`]
//! (the customer keeps its log in memory and writes it only on "Save log").
//! [`show`] and [`render_log`] make the readable ticket report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use blake2::{Blake2s256, Digest};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest accepted log line when verifying (hostile files).
pub const MAX_LINE_LEN: usize = 1024 * 1024;
/// Largest accepted log file when verifying or showing.
pub const MAX_LOG_LEN: u64 = 256 * 1024 * 1024;

const ZERO_HASH: [u8; 32] = [0; 32];
const HASH_MEMBER: &str = ",\"hash\":\"";

/// Errors of writing, reading and verifying session logs.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// An I/O error on the log file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// An I/O error on a generic writer.
    #[error("writing the log: {0}")]
    Write(#[from] io::Error),
    /// The session id cannot be used as a file name.
    #[error("session id {0:?} is not usable as a file name (use letters, digits, '-', '_', '.')")]
    InvalidSessionId(String),
    /// A record was appended after `session_end`.
    #[error("the log is finished: no record can follow session_end")]
    Finished,
    /// The file has no record at all.
    #[error("the log is empty")]
    Empty,
    /// The file is larger than [`MAX_LOG_LEN`].
    #[error("the log is larger than {MAX_LOG_LEN} bytes")]
    TooLarge,
    /// The last line was cut in the middle (no final newline or not a record).
    #[error("line {line}: the last record is truncated")]
    Truncated {
        /// 1-based line number.
        line: usize,
    },
    /// The chain of hashes is broken: a byte was changed, or lines were
    /// deleted, inserted or swapped.
    #[error("line {line}: log was tampered with: {reason}")]
    Tampered {
        /// 1-based line number.
        line: usize,
        /// What does not match.
        reason: String,
    },
}

/// Which way a file went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the technician to the customer.
    ToCustomer,
    /// From the customer to the technician.
    FromCustomer,
}

/// One logged event: the `kind` and data fields of a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// The session began.
    SessionStart {
        /// Technician ID (profile `id`).
        technician: String,
        /// What the customer's hello said (only what the customer agreed to send).
        customer: BTreeMap<String, String>,
        /// The short authentication code, `None` in clear mode.
        sas: Option<String>,
        /// The peer's address (`ip:port`).
        source: String,
        /// `"crypto"` or `"clear"`.
        mode: String,
    },
    /// Control was granted or revoked by the customer.
    Consent {
        /// True: control granted; false: view only.
        control: bool,
    },
    /// A chat line.
    Chat {
        /// Who wrote it.
        from: String,
        /// The text.
        text: String,
    },
    /// A file transfer.
    File {
        /// File name (no directories).
        name: String,
        /// Size in bytes.
        size: u64,
        /// Which way.
        direction: Direction,
        /// BLAKE2s-256 of the content, hex, when known (JSON key
        /// `file_hash`, so that it cannot be confused with the record's `hash`).
        #[serde(rename = "file_hash")]
        hash: Option<String>,
        /// `"done"`, `"refused"`, `"failed: …"`, …
        outcome: String,
    },
    /// The customer changed what is shared (`all`, `paused`, `window`, `monitor N`).
    Sharing {
        /// The new state.
        state: String,
    },
    /// The technician's session note.
    Note {
        /// The note.
        text: String,
    },
    /// Byte counters so far.
    Bytes {
        /// Bytes sent to the customer.
        to_customer: u64,
        /// Bytes received from the customer.
        from_customer: u64,
    },
    /// The session ended.
    SessionEnd {
        /// Why.
        reason: String,
        /// Milliseconds since the first record.
        duration_ms: u64,
        /// Bytes sent to the customer in total.
        to_customer: u64,
        /// Bytes received from the customer in total.
        from_customer: u64,
    },
}

impl Event {
    /// The `kind` string of this event.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SessionStart { .. } => "session_start",
            Event::Consent { .. } => "consent",
            Event::Chat { .. } => "chat",
            Event::File { .. } => "file",
            Event::Sharing { .. } => "sharing",
            Event::Note { .. } => "note",
            Event::Bytes { .. } => "bytes",
            Event::SessionEnd { .. } => "session_end",
        }
    }
}

/// One record as read back or just written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the log, from 0.
    pub seq: u64,
    /// RFC 3339 UTC time of writing.
    pub ts: String,
    /// The event.
    #[serde(flatten)]
    pub event: Event,
    /// Hex hash of the previous record.
    pub prev: String,
    /// Hex hash of this record.
    pub hash: String,
}

#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    ts: &'a str,
    #[serde(flatten)]
    event: &'a Event,
    prev: &'a str,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn chain_hash(prev: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(prev);
    h.update(body);
    h.finalize().into()
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Writes hash-chained records to any [`io::Write`] (see the module doc).
#[derive(Debug)]
pub struct LogWriter<W: Write> {
    out: W,
    seq: u64,
    prev: [u8; 32],
    started: Option<Instant>,
    to_customer: u64,
    from_customer: u64,
    finished: bool,
    records: Vec<Record>,
}

impl<W: Write> LogWriter<W> {
    /// A writer starting a new log on `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            seq: 0,
            prev: ZERO_HASH,
            started: None,
            to_customer: 0,
            from_customer: 0,
            finished: false,
            records: Vec::new(),
        }
    }

    /// Appends one record, writes its line and flushes the writer.
    pub fn append(&mut self, event: Event) -> Result<&Record, LogError> {
        if self.finished {
            return Err(LogError::Finished);
        }
        if let Event::Bytes {
            to_customer,
            from_customer,
        } = &event
        {
            self.to_customer = *to_customer;
            self.from_customer = *from_customer;
        }
        let ts = now_rfc3339();
        let prev_hex = hex(&self.prev);
        let body = serde_json::to_string(&Body {
            seq: self.seq,
            ts: &ts,
            event: &event,
            prev: &prev_hex,
        })
        .map_err(|e| LogError::Write(io::Error::other(e)))?;
        let hash = chain_hash(&self.prev, body.as_bytes());
        let hash_hex = hex(&hash);
        let mut line = body;
        line.pop(); // the closing '}'
        line.push_str(HASH_MEMBER);
        line.push_str(&hash_hex);
        line.push_str("\"}\n");
        self.out.write_all(line.as_bytes())?;
        self.out.flush()?;
        self.started.get_or_insert_with(Instant::now);
        if matches!(event, Event::SessionEnd { .. }) {
            self.finished = true;
        }
        self.records.push(Record {
            seq: self.seq,
            ts,
            event,
            prev: prev_hex,
            hash: hash_hex,
        });
        self.seq += 1;
        self.prev = hash;
        self.records.last().ok_or(LogError::Empty)
    }

    /// Records the byte counters (an [`Event::Bytes`] record); they are also
    /// remembered for `session_end`.
    pub fn bytes(&mut self, to_customer: u64, from_customer: u64) -> Result<&Record, LogError> {
        self.append(Event::Bytes {
            to_customer,
            from_customer,
        })
    }

    /// Updates the byte counters used by [`finish`](Self::finish) without writing a record.
    pub fn set_bytes(&mut self, to_customer: u64, from_customer: u64) {
        self.to_customer = to_customer;
        self.from_customer = from_customer;
    }

    /// Writes `session_end` (duration since the first record, last byte
    /// counters) and returns the final hash in hex.
    pub fn finish(&mut self, reason: &str) -> Result<String, LogError> {
        let duration_ms = self
            .started
            .map(|s| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let event = Event::SessionEnd {
            reason: reason.to_owned(),
            duration_ms,
            to_customer: self.to_customer,
            from_customer: self.from_customer,
        };
        Ok(self.append(event)?.hash.clone())
    }

    /// True once `session_end` was written.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Every record written so far (for [`render_log`]).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Time since the first record.
    pub fn elapsed(&self) -> Duration {
        self.started.map(|s| s.elapsed()).unwrap_or_default()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The underlying writer, borrowed.
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

/// What [`verify`] found in a log whose chain is intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of records.
    pub records: usize,
    /// Hash of the last record (hex).
    pub head: String,
    /// True when the last record is `session_end`.
    pub terminated: bool,
}

impl VerifyReport {
    /// One line for the user: intact and complete, or unterminated.
    pub fn summary(&self) -> String {
        if self.terminated {
            format!(
                "OK: {} records, hash chain intact, ends with session_end (last hash {})",
                self.records, self.head
            )
        } else {
            format!(
                "log ends without session_end: {} records, hash chain intact so far (last hash {}); the session was not closed cleanly or the end of the file is missing",
                self.records, self.head
            )
        }
    }
}

pub(crate) fn tampered(line: usize, reason: impl Into<String>) -> LogError {
    LogError::Tampered {
        line,
        reason: reason.into(),
    }
}

/// Verifies log bytes already in memory, returning the records and the report.
pub fn verify_bytes(data: &[u8]) -> Result<(Vec<Record>, VerifyReport), LogError> {
    if data.is_empty() {
        return Err(LogError::Empty);
    }
    let mut records = Vec::new();
    let mut prev = ZERO_HASH;
    let mut finished = false;
    let mut rest = data;
    let mut line_no = 0usize;
    while !rest.is_empty() {
        line_no += 1;
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let l = &rest[..i];
                rest = &rest[i + 1..];
                (l, true)
            }
            None => {
                let l = rest;
                rest = &[];
                (l, false)
            }
        };
        let is_last = rest.is_empty();
        if line.len() > MAX_LINE_LEN {
            return Err(tampered(line_no, "line too long"));
        }
        let parsed = check_line(line, line_no, &prev);
        let record = match parsed {
            Ok(r) => r,
            // A last line without its newline that does not check is a write
            // cut short (crash or truncation), not an edit.
            Err(_) if is_last && !complete && looks_like_prefix(line) => {
                return Err(LogError::Truncated { line: line_no });
            }
            Err(e) => return Err(e),
        };
        if !complete {
            return Err(LogError::Truncated { line: line_no });
        }
        if finished {
            return Err(tampered(line_no, "record after session_end"));
        }
        if record.seq != (line_no - 1) as u64 {
            return Err(tampered(
                line_no,
                format!("seq is {} where {} was expected", record.seq, line_no - 1),
            ));
        }
        if line_no == 1 && !matches!(record.event, Event::SessionStart { .. }) {
            return Err(tampered(line_no, "first record is not session_start"));
        }
        if line_no > 1 && matches!(record.event, Event::SessionStart { .. }) {
            return Err(tampered(line_no, "session_start in the middle of the log"));
        }
        finished = matches!(record.event, Event::SessionEnd { .. });
        prev = unhex32(&record.hash).ok_or_else(|| tampered(line_no, "bad hash"))?;
        records.push(record);
    }
    let head = hex(&prev);
    let report = VerifyReport {
        records: records.len(),
        head,
        terminated: finished,
    };
    Ok((records, report))
}

fn looks_like_prefix(line: &[u8]) -> bool {
    line.starts_with(b"{\"seq\":") || line.len() < 7 && b"{\"seq\":".starts_with(line)
}

fn check_line(line: &[u8], line_no: usize, prev: &[u8; 32]) -> Result<Record, LogError> {
    let text = std::str::from_utf8(line).map_err(|_| tampered(line_no, "not UTF-8"))?;
    let pos = text
        .rfind(HASH_MEMBER)
        .ok_or_else(|| tampered(line_no, "no hash member"))?;
    let tail = &text[pos + HASH_MEMBER.len()..];
    let stored = tail
        .strip_suffix("\"}")
        .and_then(unhex32)
        .ok_or_else(|| tampered(line_no, "malformed hash member"))?;
    let mut body = String::with_capacity(pos + 1);
    body.push_str(&text[..pos]);
    body.push('}');
    let computed = chain_hash(prev, body.as_bytes());
    if computed != stored {
        return Err(tampered(
            line_no,
            "hash does not match (record edited, or lines deleted, inserted or swapped)",
        ));
    }
    let record: Record = serde_json::from_str(text)
        .map_err(|e| tampered(line_no, format!("not a valid record: {e}")))?;
    if record.prev != hex(prev) {
        return Err(tampered(line_no, "prev does not name the previous record"));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_roundtrip() {
        let h = chain_hash(&ZERO_HASH, b"x");
        assert_eq!(unhex32(&hex(&h)), Some(h));
        assert_eq!(unhex32("zz"), None);
    }
}
