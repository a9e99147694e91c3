//! The technician's session logs: one hash-chained JSON-lines file per
//! session, in the format of [`crypto::log`] (re-exported here), plus
//! [`verify`], [`show`] and the ticket report [`render_log`].
//!
//! [`SessionLog`] writes the technician's file (created with `create_new`,
//! written and flushed record by record, so that a crash loses nothing that
//! was appended). The customer's Remoto writes the same format from memory
//! on "Save log".

pub use crypto::log::*;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
/// The technician's log file of one session.
#[derive(Debug)]
pub struct SessionLog {
    path: PathBuf,
    writer: LogWriter<File>,
}

fn valid_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

impl SessionLog {
    /// Creates `dir/<session_id>.jsonl` (never overwrites: `create_new`).
    /// The directory is created if missing.
    pub fn create(dir: &Path, session_id: &str) -> Result<SessionLog, LogError> {
        if !valid_session_id(session_id) {
            return Err(LogError::InvalidSessionId(session_id.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|source| LogError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(format!("{session_id}.jsonl"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|source| LogError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(SessionLog {
            path,
            writer: LogWriter::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io<T>(&self, r: Result<T, LogError>) -> Result<T, LogError> {
        r.map_err(|e| match e {
            LogError::Write(source) => LogError::Io {
                path: self.path.clone(),
                source,
            },
            other => other,
        })
    }

    /// Appends one record (written and flushed before returning).
    pub fn append(&mut self, event: Event) -> Result<Record, LogError> {
        let r = self.writer.append(event).cloned();
        self.io(r)
    }

    /// Appends a `bytes` record.
    pub fn bytes(&mut self, to_customer: u64, from_customer: u64) -> Result<Record, LogError> {
        let r = self.writer.bytes(to_customer, from_customer).cloned();
        self.io(r)
    }

    /// Updates the byte counters `finish` will write.
    pub fn set_bytes(&mut self, to_customer: u64, from_customer: u64) {
        self.writer.set_bytes(to_customer, from_customer);
    }

    /// Every record written so far.
    pub fn records(&self) -> &[Record] {
        self.writer.records()
    }

    /// True once `session_end` was written.
    pub fn is_finished(&self) -> bool {
        self.writer.is_finished()
    }

    /// Writes `session_end`, syncs the file to disk, and returns the final
    /// hash (hex) to quote in the ticket.
    pub fn finish(&mut self, reason: &str) -> Result<String, LogError> {
        let r = self.writer.finish(reason);
        let head = self.io(r)?;
        let file = self.writer.get_ref();
        file.sync_all().map_err(|source| LogError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(head)
    }
}

fn read_limited(path: &Path) -> Result<Vec<u8>, LogError> {
    let io_err = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.len() > MAX_LOG_LEN {
        return Err(LogError::TooLarge);
    }
    std::fs::read(path).map_err(io_err)
}

/// Verifies a log file (see the module doc for what is detected).
pub fn verify(path: &Path) -> Result<VerifyReport, LogError> {
    let data = read_limited(path)?;
    verify_bytes(&data).map(|(_, report)| report)
}

/// Reads and verifies a log file and renders the ticket report, followed by
/// the verification result. A log that fails verification is an error.
pub fn show(path: &Path) -> Result<String, LogError> {
    let data = read_limited(path)?;
    let (records, report) = verify_bytes(&data)?;
    let mut out = render_log(&records);
    out.push_str(&format!("\nVerification: {}\n", report.summary()));
    Ok(out)
}

fn fmt_duration(ms: u64) -> String {
    let s = ms / 1000;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

fn time_of(ts: &str) -> &str {
    // "2026-11-03T10:00:00.123Z" → "10:00:00"
    ts.get(11..19).unwrap_or(ts)
}

/// Renders records as a readable ticket report: who, when, how long,
/// customer, SAS, consent changes, chat, files, notes, end reason.
pub fn render_log(records: &[Record]) -> String {
    let mut out = String::new();
    let mut events = String::new();
    let mut end: Option<(&str, &str, u64, u64, u64)> = None;
    let mut bytes = (0u64, 0u64);
    let mut control_since: Option<time::OffsetDateTime> = None;
    let mut control_ms = 0u64;
    let mut control_ever = false;
    let mut chats = 0usize;
    let mut files: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let parse_ts = |ts: &str| time::OffsetDateTime::parse(ts, &Rfc3339).ok();
    let span_ms = |a: time::OffsetDateTime, b: Option<time::OffsetDateTime>| {
        b.map(|b| u64::try_from((b - a).whole_milliseconds()).unwrap_or(0))
            .unwrap_or(0)
    };
    let _ = writeln!(out, "Remoto session report");
    for r in records {
        match &r.event {
            Event::Consent { control: true } if control_since.is_none() => {
                control_ever = true;
                control_since = parse_ts(&r.ts);
            }
            Event::Consent { control: false } | Event::SessionEnd { .. } => {
                if let Some(since) = control_since.take() {
                    control_ms += span_ms(since, parse_ts(&r.ts));
                }
            }
            Event::Chat { .. } => chats += 1,
            Event::File { name, outcome, .. } => files.push(format!("{name} ({outcome})")),
            Event::Note { text } => notes.push(text.clone()),
            _ => {}
        }
        match &r.event {
            Event::SessionStart {
                technician,
                customer,
                sas,
                source,
                mode,
            } => {
                let _ = writeln!(out, "Technician:  {technician}");
                let who = customer
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(
                    out,
                    "Customer:    {}",
                    if who.is_empty() { "(no details)" } else { &who }
                );
                let _ = writeln!(out, "From:        {source}");
                match sas {
                    Some(sas) => {
                        let _ = writeln!(out, "Channel:     {mode}, SAS {sas}");
                    }
                    None => {
                        let _ = writeln!(out, "Channel:     {mode} (not encrypted, no SAS)");
                    }
                }
                let _ = writeln!(out, "Started:     {}", r.ts);
            }
            Event::Consent { control } => {
                let what = if *control {
                    "control granted by the customer"
                } else {
                    "control revoked: view only"
                };
                let _ = writeln!(events, "  {}  {what}", time_of(&r.ts));
            }
            Event::Chat { from, text } => {
                let _ = writeln!(events, "  {}  chat {from}: {text}", time_of(&r.ts));
            }
            Event::File {
                name,
                size,
                direction,
                hash,
                outcome,
            } => {
                let dir = match direction {
                    Direction::ToCustomer => "sent to customer",
                    Direction::FromCustomer => "received from customer",
                };
                let h = hash
                    .as_deref()
                    .map(|h| format!(", blake2s {h}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    events,
                    "  {}  file {dir}: {name} ({}{h}): {outcome}",
                    time_of(&r.ts),
                    fmt_bytes(*size)
                );
            }
            Event::Note { text } => {
                let _ = writeln!(events, "  {}  note: {text}", time_of(&r.ts));
            }
            Event::Sharing { state } => {
                let _ = writeln!(events, "  {}  sharing: {state}", time_of(&r.ts));
            }
            Event::Bytes {
                to_customer,
                from_customer,
            } => bytes = (*to_customer, *from_customer),
            Event::SessionEnd {
                reason,
                duration_ms,
                to_customer,
                from_customer,
            } => end = Some((&r.ts, reason, *duration_ms, *to_customer, *from_customer)),
        }
    }
    match end {
        Some((ts, reason, ms, to_c, from_c)) => {
            let _ = writeln!(out, "Ended:       {ts}");
            let _ = writeln!(out, "Duration:    {}", fmt_duration(ms));
            let _ = writeln!(out, "End reason:  {reason}");
            bytes = (to_c, from_c);
        }
        None => {
            let _ = writeln!(out, "Ended:       (log ends without session_end)");
            if let Some(last) = records.last() {
                let _ = writeln!(out, "Last record: {}", last.ts);
            }
        }
    }
    let _ = writeln!(
        out,
        "Data:        {} to customer, {} from customer",
        fmt_bytes(bytes.0),
        fmt_bytes(bytes.1)
    );
    if control_ever {
        let _ = writeln!(
            out,
            "Control:     granted, for {} in total",
            fmt_duration(control_ms)
        );
    } else {
        let _ = writeln!(out, "Control:     never granted (view only)");
    }
    let _ = writeln!(out, "Chat:        {chats} lines");
    if files.is_empty() {
        let _ = writeln!(out, "Files:       none");
    } else {
        let _ = writeln!(out, "Files:       {}: {}", files.len(), files.join("; "));
    }
    if notes.is_empty() {
        let _ = writeln!(out, "Notes:       none");
    } else {
        let _ = writeln!(out, "Notes:");
        for n in &notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    if let Some(last) = records.last() {
        let _ = writeln!(out, "Last hash:   {}", last.hash);
    }
    if events.is_empty() {
        let _ = writeln!(out, "Events:      none");
    } else {
        let _ = writeln!(out, "Events:");
        out.push_str(&events);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn start() -> Event {
        Event::SessionStart {
            technician: "Verde".into(),
            customer: BTreeMap::from([("hostname".into(), "pc1".into())]),
            sas: Some("123 456".into()),
            source: "127.0.0.1:40000".into(),
            mode: "crypto".into(),
        }
    }

    #[test]
    fn writes_verifiable_chain_in_memory() {
        let mut w = LogWriter::new(Vec::new());
        w.append(start()).unwrap();
        w.append(Event::Consent { control: true }).unwrap();
        let head = w.finish("technician closed").unwrap();
        assert!(w.append(Event::Note { text: "x".into() }).is_err());
        let bytes = w.into_inner();
        let (records, report) = verify_bytes(&bytes).unwrap();
        assert_eq!(records.len(), 3);
        assert!(report.terminated);
        assert_eq!(report.head, head);
        let first = std::str::from_utf8(&bytes).unwrap().lines().next().unwrap();
        assert!(first.starts_with("{\"seq\":0,\"ts\":\""));
        assert!(first.contains("\"kind\":\"session_start\""));
    }

    #[test]
    fn rejects_bad_session_ids() {
        let dir = std::env::temp_dir();
        for id in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(matches!(
                SessionLog::create(&dir, id),
                Err(LogError::InvalidSessionId(_))
            ));
        }
    }

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(fmt_duration(3_723_000), "1h 02m 03s");
        assert_eq!(fmt_duration(65_000), "1m 05s");
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_bytes(1_500_000), "1.5 MB");
    }
}
