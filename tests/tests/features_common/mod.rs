//! Shared set-up of the `features_*` tests: a repacked `remoto` whose
//! profile sends its one crypto technician ("Demo", the demo key) to a free
//! loopback port with a chosen `share_system_info` list, and the real
//! `viewer` listening there headless.

// Each test file uses a part of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::process::run_ok;
use tests::remoto::{Remoto, json_event, remoto_bin, viewer_bin, workspace_root};
use tests::{Artifacts, TIMEOUT, wait_for};

/// The demo technician's public key line, from the example profile.
fn demo_public_key() -> String {
    let text = std::fs::read_to_string(workspace_root().join("profiles/example.toml"))
        .expect("read profiles/example.toml");
    text.lines()
        .find(|l| l.trim_start().starts_with("public_key"))
        .expect("public_key line in the example profile")
        .trim()
        .to_string()
}

/// A copy of `remoto` repacked (`viewer profile pack`) with a profile whose
/// technician "Demo" is at 127.0.0.1:`port`, crypto, sharing `share`.
pub fn packed_remoto(art: &Artifacts, port: u16, share: &[&str]) -> PathBuf {
    let list: Vec<String> = share.iter().map(|s| format!("{s:?}")).collect();
    let profile = format!(
        "[brand]\nname = \"features test\"\nlanguage = \"en\"\n\n[session]\ncontrol = \"ask\"\nshare_system_info = [{}]\n\n[[technician]]\nid = \"Demo\"\nendpoints = [\"127.0.0.1:{port}\"]\nmode = \"crypto\"\n{}\n",
        list.join(", "),
        demo_public_key()
    );
    let path = art.write("profile.toml", profile);
    let out = art.path("remoto-packed");
    run_ok(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(remoto_bin())
            .arg("--profile")
            .arg(&path)
            .arg("--out")
            .arg(&out),
        TIMEOUT,
    );
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod the packed remoto");
    out
}

/// A private (0600) copy of the demo technician key.
pub fn demo_key(art: &Artifacts) -> PathBuf {
    let key = art.path("demo-technician.key");
    std::fs::copy(workspace_root().join("profiles/demo-technician.key"), &key)
        .expect("copy the demo key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600 the demo key");
    key
}

/// The running viewer and where it writes.
pub struct Viewer {
    /// The process (stdin commands, JSON event lines).
    pub proc: Remoto,
    /// Snapshot directory (`session-N.png`).
    pub snaps: PathBuf,
    /// Log directory (`*.jsonl`, received files under `files/`).
    pub logs: PathBuf,
}

/// `viewer listen --headless --accept-all` on 127.0.0.1:`port`.
pub fn start_viewer(art: &Artifacts, port: u16) -> Viewer {
    let key = demo_key(art);
    let snaps = art.path("snapshots");
    let logs = art.path("viewer-logs");
    std::fs::create_dir_all(&snaps).expect("snapshot dir");
    std::fs::create_dir_all(&logs).expect("log dir");
    let mut cmd = Command::new(viewer_bin());
    cmd.args([
        "listen",
        "--headless",
        "--accept-all",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--key",
    ])
    .arg(&key)
    .arg("--snapshot-dir")
    .arg(&snaps)
    .arg("--log")
    .arg(&logs)
    .current_dir(workspace_root());
    let mut proc = Remoto::spawn("viewer", &mut cmd, art);
    wait_for("the viewer to listen", TIMEOUT, || {
        proc.guard().assert_running();
        tests::net::is_listening(port).then_some(())
    });
    Viewer { proc, snaps, logs }
}

/// `BIN connect Demo --yes --display D [extra]`.
pub fn connect(bin: &Path, display: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["connect", "Demo", "--yes", "--display", display])
        .args(extra)
        .env_remove("DISPLAY")
        .current_dir(workspace_root());
    cmd
}

/// Waits for the session to run on both sides.
pub fn wait_connected(remoto: &mut Remoto, viewer: &mut Viewer) {
    remoto.wait_line("sharing … encrypted", TIMEOUT, |l| {
        l.starts_with("sharing the screen (encrypted)")
    });
    viewer
        .proc
        .wait_line("connected event", TIMEOUT, |l| l.contains("\"connected\""));
}

/// The JSON events of `kind` printed by the viewer so far.
pub fn events(viewer: &Viewer, kind: &str) -> Vec<serde_json::Value> {
    viewer
        .proc
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").and_then(|e| e.as_str()) == Some(kind))
        .collect()
}

/// Waits for a viewer event of `kind` matching `pred`.
pub fn wait_event(
    viewer: &mut Viewer,
    kind: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(&format!("viewer event {kind}"), TIMEOUT, || {
        viewer.proc.guard().assert_running();
        events(viewer, kind).into_iter().find(|v| pred(v))
    })
}

/// The first event of `kind`, if any.
pub fn first_event(viewer: &Viewer, kind: &str) -> Option<serde_json::Value> {
    json_event(&viewer.proc.lines(), kind)
}

/// The viewer's session logs (`*.jsonl`).
pub fn viewer_logs(viewer: &Viewer) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(&viewer.logs)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `viewer log ARGS…` output (must succeed).
pub fn viewer_log(args: &[&str], file: &Path) -> String {
    let out = run_ok(
        Command::new(viewer_bin()).arg("log").args(args).arg(file),
        TIMEOUT,
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
