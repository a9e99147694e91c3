//! Chat, file transfer, session notes and the customer's saved log, end to
//! end with the real `remoto` (headless, repacked profile on a free port)
//! and the real `viewer` (headless), over the encrypted channel:
//!
//! - `chat_notes_and_logs`: chat lines both ways arrive and land in both
//!   logs; the technician's note is in the ticket report; the customer's
//!   `--save-log` file verifies with `viewer log verify`;
//! - `files_both_ways`: technician → customer (accepted: same bytes and
//!   hash; refused; withdrawn; accepted then cancelled: nothing left),
//!   customer → technician (same bytes and hash), names that cannot be
//!   sent are refused by the sender, and an existing file is not replaced.

mod features_common;

use features_common::*;
use std::time::Duration;
use tests::remoto::Remoto;
use tests::{Artifacts, TIMEOUT, XServer, wait_for};

fn session(art: &Artifacts, extra: &[&str]) -> (XServer, Viewer, Remoto) {
    let x = XServer::xvfb(art, 320, 240);
    let port = tests::net::free_port();
    let bin = packed_remoto(art, port, &["os"]);
    let mut viewer = start_viewer(art, port);
    let mut remoto = Remoto::spawn("remoto", &mut connect(&bin, &x.display(), extra), art);
    wait_connected(&mut remoto, &mut viewer);
    (x, viewer, remoto)
}

fn close(remoto: &mut Remoto, viewer: &mut Viewer) {
    remoto.send("close");
    let status = remoto.wait_exit(TIMEOUT).expect("remoto exits after close");
    assert!(status.success(), "remoto exit: {status:?}");
    wait_event(viewer, "ended", |_| true);
}

#[test]
fn chat_notes_and_logs() {
    let art = Artifacts::new("features_chat_notes_and_logs");
    let saved = art.path("customer-log.jsonl");
    let saved_arg = saved.display().to_string();
    let (_x, mut viewer, mut remoto) = session(&art, &["--save-log", &saved_arg]);

    remoto.send("chat Buongiorno, la stampante non va");
    let c = wait_event(&mut viewer, "chat", |v| v["from"] == "customer");
    assert_eq!(c["text"], "Buongiorno, la stampante non va");
    assert_eq!(c["session"], 1);
    viewer.proc.send("chat 1 Ciao, ci guardo subito");
    remoto.wait_line("technician chat", TIMEOUT, |l| {
        l.starts_with("chat ") && l.ends_with("technician: Ciao, ci guardo subito")
    });
    // Chat works while control is not granted: it was never allowed here.
    viewer.proc.send("note 1 ticket 4711: driver reinstalled");
    wait_event(&mut viewer, "note", |v| {
        v["text"] == "ticket 4711: driver reinstalled"
    });
    close(&mut remoto, &mut viewer);

    // The technician's log: both chat lines and the note, chain intact.
    let logs = viewer_logs(&viewer);
    assert_eq!(logs.len(), 1, "one session log: {logs:?}");
    let text = std::fs::read_to_string(&logs[0]).expect("read viewer log");
    assert!(
        text.contains(
            "\"kind\":\"chat\",\"from\":\"customer\",\"text\":\"Buongiorno, la stampante non va\""
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "\"kind\":\"chat\",\"from\":\"technician\",\"text\":\"Ciao, ci guardo subito\""
        ),
        "{text}"
    );
    assert!(
        text.contains("\"kind\":\"note\",\"text\":\"ticket 4711: driver reinstalled\""),
        "{text}"
    );
    let verify = viewer_log(&["verify"], &logs[0]);
    assert!(verify.contains(": OK: "), "{verify}");
    let report = viewer_log(&["show"], &logs[0]);
    for want in [
        "Technician:  technician",
        "Control:     never granted",
        "Chat:        2 lines",
        "  - ticket 4711: driver reinstalled",
        "Files:       none",
    ] {
        assert!(report.contains(want), "{want:?} missing in:\n{report}");
    }

    // The customer's saved log: same format, both chat lines, verifies.
    let out = remoto.stdout_text();
    assert!(out.contains("session log saved to"), "{out}");
    assert!(out.contains("chat lines: 2"), "{out}");
    let customer = std::fs::read_to_string(&saved).expect("saved customer log");
    assert!(
        customer.contains("\"from\":\"customer\",\"text\":\"Buongiorno, la stampante non va\""),
        "{customer}"
    );
    assert!(
        customer.contains("\"from\":\"Demo\",\"text\":\"Ciao, ci guardo subito\""),
        "{customer}"
    );
    let verify = viewer_log(&["verify"], &saved);
    assert!(verify.contains(": OK: "), "customer log: {verify}");
    // Any edit is detected.
    let tampered = art.write(
        "customer-log-tampered.jsonl",
        customer.replace("stampante", "stampanti"),
    );
    let out = tests::process::run_with_timeout(
        std::process::Command::new(tests::remoto::viewer_bin())
            .args(["log", "verify"])
            .arg(&tampered),
        TIMEOUT,
    )
    .expect("viewer log verify runs");
    assert!(!out.status.success(), "a tampered log verified");
}

fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut r = tests::image::Rng::new(seed);
    (0..len).map(|_| r.next_u32() as u8).collect()
}

/// The last number of a `file offer N: …` line of remoto.
fn offer_id(remoto: &mut Remoto, name: &str) -> u32 {
    let line = remoto.wait_line(&format!("offer of {name}"), TIMEOUT, |l| {
        l.starts_with("file offer ") && l.contains(&format!(": {name} ("))
    });
    line.trim_start_matches("file offer ")
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no id in {line:?}"))
}

fn finished_line(remoto: &mut Remoto, id: u32) -> String {
    remoto.wait_line(&format!("file {id} finished"), TIMEOUT, |l| {
        l.starts_with(&format!("file {id} from technician "))
            || l.starts_with(&format!("file {id} to technician "))
    })
}

#[test]
fn files_both_ways() {
    let art = Artifacts::new("features_files_both_ways");
    let (_x, mut viewer, mut remoto) = session(&art, &[]);
    let outbox = art.path("outbox");
    let inbox = art.path("inbox");
    std::fs::create_dir_all(&outbox).expect("outbox");
    std::fs::create_dir_all(&inbox).expect("inbox");

    // Technician → customer, accepted: same bytes, hash reported.
    let content = pseudo_random(300_000, 7);
    let src = outbox.join("report.bin");
    std::fs::write(&src, &content).expect("write source");
    viewer.proc.send(&format!("send 1 {}", src.display()));
    let id = offer_id(&mut remoto, "report.bin");
    // Nothing is written before the customer chooses.
    assert_eq!(std::fs::read_dir(&inbox).expect("inbox").count(), 0);
    let dest = inbox.join("saved-report.bin");
    remoto.send(&format!("accept-file {id} {}", dest.display()));
    let done = finished_line(&mut remoto, id);
    assert!(done.contains("report.bin: done"), "{done}");
    assert_eq!(std::fs::read(&dest).expect("received file"), content);
    let fin = wait_event(&mut viewer, "file_finished", |v| {
        v["id"] == id && v["name"] == "report.bin"
    });
    assert_eq!(fin["outcome"], "done", "{fin}");
    assert_eq!(fin["direction"], "to_customer");
    let hash = fin["hash"].as_str().expect("hash").to_string();
    assert_eq!(hash.len(), 64);

    // Sent again: the customer's target exists and is not replaced.
    viewer.proc.send(&format!("send 1 {}", src.display()));
    let id2 = wait_for("second offer", TIMEOUT, || {
        let ids: Vec<u32> = remoto
            .lines()
            .iter()
            .filter_map(|l| l.strip_prefix("file offer "))
            .filter_map(|r| r.split(':').next()?.parse().ok())
            .collect();
        ids.into_iter().find(|&i| i != id)
    });
    std::fs::write(&dest, b"keep me").expect("overwrite guard");
    remoto.send(&format!("accept-file {id2} {}", dest.display()));
    remoto.wait_line("exists notice", TIMEOUT, |l| l.contains("already exists"));
    assert_eq!(std::fs::read(&dest).expect("kept"), b"keep me");
    // Refused.
    remoto.send(&format!("refuse-file {id2}"));
    let fin = wait_event(&mut viewer, "file_finished", |v| v["id"] == id2);
    assert_eq!(fin["outcome"], "refused by the customer", "{fin}");

    // Offered, then withdrawn by the technician before an answer.
    let other = outbox.join("withdrawn.txt");
    std::fs::write(&other, b"never sent").expect("write");
    viewer.proc.send(&format!("send 1 {}", other.display()));
    let id3 = offer_id(&mut remoto, "withdrawn.txt");
    viewer.proc.send(&format!("cancel-file 1 {id3}"));
    let fin = finished_line(&mut remoto, id3);
    assert!(fin.contains("withdrawn by the technician"), "{fin}");

    // Accepted then cancelled by the customer at once: nothing is left.
    let big = outbox.join("big.bin");
    std::fs::write(&big, pseudo_random(8 * 1024 * 1024, 9)).expect("write big");
    viewer.proc.send(&format!("send 1 {}", big.display()));
    let id4 = offer_id(&mut remoto, "big.bin");
    let big_dest = inbox.join("big.bin");
    remoto.send(&format!(
        "accept-file {id4} {}\ncancel-file {id4}",
        big_dest.display()
    ));
    let fin = finished_line(&mut remoto, id4);
    assert!(fin.contains("cancelled by the customer"), "{fin}");
    assert!(!big_dest.exists(), "a cancelled file was left behind");
    let vfin = wait_event(&mut viewer, "file_finished", |v| v["id"] == id4);
    assert_eq!(vfin["outcome"], "cancelled by the customer", "{vfin}");

    // Names that cannot be sent: refused by the sender, nothing offered.
    let dotdot = outbox.join("a..b");
    std::fs::write(&dotdot, b"x").expect("write");
    viewer.proc.send(&format!("send 1 {}", dotdot.display()));
    wait_event(&mut viewer, "error", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot send the file") && m.contains(".."))
    });
    viewer.proc.send(&format!("send 1 {}/..", outbox.display()));
    wait_event(&mut viewer, "error", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a file name that can be sent"))
    });

    // Customer → technician, accepted: same bytes and hash.
    let cust = pseudo_random(200_000, 11);
    let cust_src = art.path("screenshot.dat");
    std::fs::write(&cust_src, &cust).expect("write customer file");
    remoto.send(&format!("send-file {}", cust_src.display()));
    let offered = wait_event(&mut viewer, "file_offered", |v| {
        v["name"] == "screenshot.dat"
    });
    assert_eq!(offered["size"], 200_000);
    let cid = offered["id"].as_u64().expect("id");
    viewer.proc.send(&format!("accept-file 1 {cid}"));
    let fin = wait_event(&mut viewer, "file_finished", |v| v["id"] == cid);
    assert_eq!(fin["outcome"], "done", "{fin}");
    assert_eq!(fin["direction"], "from_customer");
    let path = fin["path"].as_str().expect("saved path");
    assert_eq!(std::fs::read(path).expect("technician copy"), cust);
    let cdone = finished_line(&mut remoto, cid as u32);
    assert!(cdone.contains("screenshot.dat: done"), "{cdone}");
    // Offered again and refused by the technician.
    remoto.send(&format!("send-file {}", cust_src.display()));
    let again = wait_event(&mut viewer, "file_offered", |v| v["id"] != cid);
    let rid = again["id"].as_u64().expect("id");
    viewer.proc.send(&format!("refuse-file 1 {rid}"));
    let rfin = finished_line(&mut remoto, rid as u32);
    assert!(rfin.contains("refused by the technician"), "{rfin}");

    std::thread::sleep(Duration::from_millis(200));
    close(&mut remoto, &mut viewer);
    let logs = viewer_logs(&viewer);
    let report = viewer_log(&["show"], &logs[0]);
    assert!(report.contains(&format!("blake2s {hash}")), "{report}");
    assert!(report.contains("report.bin (done)"), "{report}");
    let out = remoto.stdout_text();
    assert!(
        out.contains("only the files you accepted were written"),
        "{out}"
    );
}
