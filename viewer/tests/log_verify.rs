//! Session logs: written record by record, verified, and every kind of
//! tampering detected (edited byte, deleted, inserted or swapped lines,
//! truncated last line), while an unterminated log is told apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use viewer::log::{self, Direction, Event, LogError, LogWriter, SessionLog};

fn write_session(dir: &Path) -> (PathBuf, String) {
    let mut log = SessionLog::create(dir, "20261103-100000-verde-1").unwrap();
    log.append(Event::SessionStart {
        technician: "Verde".into(),
        customer: BTreeMap::from([
            ("hostname".to_string(), "pc-mario".to_string()),
            ("user".to_string(), "mario".to_string()),
        ]),
        sas: Some("482 913".into()),
        source: "127.0.0.1:40123".into(),
        mode: "crypto".into(),
    })
    .unwrap();
    // Each record is on disk as soon as append returns.
    let on_disk = std::fs::read_to_string(log.path()).unwrap();
    assert_eq!(on_disk.lines().count(), 1);
    log.append(Event::Consent { control: true }).unwrap();
    log.append(Event::Chat {
        from: "Verde".into(),
        text: "Buongiorno, vedo lo schermo \"ok\"".into(),
    })
    .unwrap();
    log.append(Event::File {
        name: "report.txt".into(),
        size: 1234,
        direction: Direction::FromCustomer,
        hash: Some("ab".repeat(32)),
        outcome: "done".into(),
    })
    .unwrap();
    log.append(Event::Consent { control: false }).unwrap();
    log.append(Event::Note {
        text: "printer driver reinstalled".into(),
    })
    .unwrap();
    log.bytes(10_000, 2_500_000).unwrap();
    let head = log.finish("customer closed").unwrap();
    assert!(
        log.append(Event::Note {
            text: "late".into()
        })
        .is_err()
    );
    (log.path().to_owned(), head)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    std::fs::write(path, s).unwrap();
}

fn tampered_at(r: Result<log::VerifyReport, LogError>) -> usize {
    match r {
        Err(LogError::Tampered { line, .. }) => line,
        other => panic!("expected tampering, got {other:?}"),
    }
}

#[test]
fn intact_log_verifies_and_shows_a_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let (path, head) = write_session(dir.path());
    let report = log::verify(&path).unwrap();
    assert_eq!(report.records, 8);
    assert!(report.terminated);
    assert_eq!(report.head, head);
    assert!(report.summary().starts_with("OK"));
    // create_new: the same session id cannot overwrite.
    assert!(matches!(
        SessionLog::create(dir.path(), "20261103-100000-verde-1"),
        Err(LogError::Io { .. })
    ));
    let text = log::show(&path).unwrap();
    for needle in [
        "Technician:  Verde",
        "hostname=pc-mario",
        "SAS 482 913",
        "127.0.0.1:40123",
        "control granted",
        "control revoked",
        "chat Verde: Buongiorno",
        "report.txt",
        "printer driver reinstalled",
        "End reason:  customer closed",
        "2.5 MB from customer",
        "Verification: OK",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
}

#[test]
fn any_edited_byte_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_session(dir.path());
    let original = std::fs::read(&path).unwrap();
    // Flip every byte position once (newlines included).
    for i in 0..original.len() {
        let mut bytes = original.clone();
        bytes[i] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let r = log::verify(&path);
        assert!(
            matches!(
                r,
                Err(LogError::Tampered { .. } | LogError::Truncated { .. })
            ),
            "byte {i} edit not detected: {r:?}"
        );
    }
}

#[test]
fn deleted_inserted_swapped_lines_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_session(dir.path());
    let orig = lines(&path);

    let mut l = orig.clone();
    l.remove(2);
    rewrite(&path, &l);
    assert_eq!(tampered_at(log::verify(&path)), 3);

    let mut l = orig.clone();
    l.insert(3, orig[2].clone());
    rewrite(&path, &l);
    assert_eq!(tampered_at(log::verify(&path)), 4);

    let mut l = orig.clone();
    l.swap(1, 2);
    rewrite(&path, &l);
    assert_eq!(tampered_at(log::verify(&path)), 2);

    // Removing the first line.
    rewrite(&path, &orig[1..]);
    assert_eq!(tampered_at(log::verify(&path)), 1);

    // Changing a chat text and recomputing nothing.
    let mut l = orig.clone();
    l[2] = l[2].replace("Buongiorno", "Buonasera!");
    rewrite(&path, &l);
    assert_eq!(tampered_at(log::verify(&path)), 3);
}

#[test]
fn truncation_and_unterminated_logs_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_session(dir.path());
    let orig = std::fs::read(&path).unwrap();

    // Last line cut in the middle: truncated.
    std::fs::write(&path, &orig[..orig.len() - 20]).unwrap();
    assert!(matches!(
        log::verify(&path),
        Err(LogError::Truncated { line: 8 })
    ));
    // Only the final newline missing: still truncated (not a complete record).
    std::fs::write(&path, &orig[..orig.len() - 1]).unwrap();
    assert!(matches!(
        log::verify(&path),
        Err(LogError::Truncated { line: 8 })
    ));

    // Whole session_end line missing: intact chain, but unterminated.
    let l = lines(&path);
    rewrite(&path, &l[..l.len() - 1]);
    let report = log::verify(&path).unwrap();
    assert!(!report.terminated);
    assert_eq!(report.records, 7);
    assert!(report.summary().starts_with("log ends without session_end"));
    let text = log::show(&path).unwrap();
    assert!(text.contains("log ends without session_end"), "{text}");

    std::fs::write(&path, b"").unwrap();
    assert!(matches!(log::verify(&path), Err(LogError::Empty)));
    std::fs::write(&path, b"garbage\n").unwrap();
    assert!(matches!(
        log::verify(&path),
        Err(LogError::Tampered { line: 1, .. })
    ));
}

#[test]
fn in_memory_writer_renders_the_same_report() {
    // The customer keeps its log in memory and writes it on "Save log".
    let mut w = LogWriter::new(Vec::new());
    w.append(Event::SessionStart {
        technician: "Viola".into(),
        customer: BTreeMap::new(),
        sas: None,
        source: "127.0.0.1:5500".into(),
        mode: "clear".into(),
    })
    .unwrap();
    w.append(Event::Chat {
        from: "customer".into(),
        text: "ciao".into(),
    })
    .unwrap();
    w.finish("technician disconnected").unwrap();
    let text = log::render_log(w.records());
    assert!(text.contains("clear (not encrypted, no SAS)"));
    assert!(text.contains("End reason:  technician disconnected"));
    let bytes = w.into_inner();
    let (records, report) = log::verify_bytes(&bytes).unwrap();
    assert!(report.terminated);
    assert_eq!(log::render_log(&records), text);
}
