//! The technician's side for system tests: `viewer listen --headless` on a
//! chosen port (never the shared default 5500), its JSON events, its PNG
//! snapshots compared with a display, its session logs verified with
//! `viewer log verify`; fresh technician keys; Remoto copies packed with a
//! team profile pointing at that viewer (`viewer profile pack`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::artifacts::Artifacts;
use crate::image::{Image, assert_same};
use crate::process::run_ok;
use crate::remoto::{Remoto, remoto_bin, viewer_bin, workspace_root};
use crate::wait::{self, TIMEOUT};

/// A fresh technician key (`viewer keygen --out`): the key file and its
/// public key (`rmt1…`) for a profile.
pub fn keygen(art: &Artifacts, name: &str) -> (PathBuf, String) {
    let key = art.path(&format!("{name}.key"));
    let out = run_ok(
        Command::new(viewer_bin())
            .args(["keygen", "--out"])
            .arg(&key),
        TIMEOUT,
    );
    let text = out.stdout_text();
    let public = text
        .split('"')
        .find(|s| s.starts_with("rmt1"))
        .unwrap_or_else(|| panic!("no public key in `viewer keygen` output: {text}"))
        .to_string();
    (key, public)
}

/// A private (mode 0600) copy of the demo technician key
/// `profiles/demo-technician.key` (git does not keep the file mode, and
/// the viewer refuses a key that others can read).
pub fn demo_key(art: &Artifacts) -> PathBuf {
    let key = art.path("demo-technician.key");
    std::fs::copy(workspace_root().join("profiles/demo-technician.key"), &key)
        .expect("copy the demo key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600 the demo key");
    key
}

/// One technician entry of a team profile.
#[derive(Debug, Clone)]
pub struct TechnicianEntry {
    /// The ID the customer picks.
    pub id: String,
    /// `host:port` endpoints.
    pub endpoints: Vec<String>,
    /// The technician's public key: crypto mode; `None`: clear mode.
    pub public_key: Option<String>,
}

impl TechnicianEntry {
    /// A clear (unencrypted) technician at `endpoint`.
    pub fn clear(id: &str, endpoint: &str) -> Self {
        Self {
            id: id.into(),
            endpoints: vec![endpoint.into()],
            public_key: None,
        }
    }

    /// A crypto technician at `endpoint` with `public_key`.
    pub fn crypto(id: &str, endpoint: &str, public_key: &str) -> Self {
        Self {
            id: id.into(),
            endpoints: vec![endpoint.into()],
            public_key: Some(public_key.into()),
        }
    }
}

/// A team profile (TOML) with the given technicians; `control = "ask"`,
/// one phone number, and `extra_brand` lines added to `[brand]`.
pub fn team_profile(technicians: &[TechnicianEntry], extra_brand: &str) -> String {
    let mut s = format!(
        "[brand]\nname = \"test team\"\ntitle = \"System test\"\n\
         phones = [\"+39 02 1234567\", \"+39 06 7654321\"]\nlanguage = \"en\"\n{extra_brand}\n\n\
         [session]\ncontrol = \"ask\"\n"
    );
    for t in technicians {
        let eps: Vec<String> = t.endpoints.iter().map(|e| format!("\"{e}\"")).collect();
        s.push_str(&format!(
            "\n[[technician]]\nid = \"{}\"\nendpoints = [{}]\n",
            t.id,
            eps.join(", ")
        ));
        match &t.public_key {
            Some(k) => s.push_str(&format!(
                "mode = \"crypto\"\npublic_key = \"{k}\"\nsession_code = \"off\"\n"
            )),
            None => s.push_str("mode = \"clear\"\n"),
        }
    }
    s
}

/// A copy of the test build of `remoto` packed with `profile`
/// (`viewer profile pack`), as `<artifacts>/<name>`.
pub fn packed_remoto(art: &Artifacts, name: &str, profile: &str) -> PathBuf {
    let toml = art.path(&format!("{name}.toml"));
    std::fs::write(&toml, profile).expect("write the profile");
    let out = art.path(name);
    run_ok(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(remoto_bin())
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(&out),
        TIMEOUT,
    );
    out
}

/// How to start a [`Viewer`].
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// Address to listen on.
    pub bind: String,
    /// Port (use [`crate::net::free_port`]; 5500 is shared).
    pub port: u16,
    /// Key file.
    pub key: PathBuf,
    /// `--accept-all` (otherwise every session waits for `accept N`).
    pub accept_all: bool,
    /// Run inside this network namespace (`ip netns exec NS`).
    pub netns: Option<String>,
    /// More arguments for `viewer listen`.
    pub extra: Vec<String>,
}

impl ViewerOptions {
    /// Loopback, `port`, `key`, accepting every session.
    pub fn loopback(port: u16, key: &Path) -> Self {
        Self {
            bind: "127.0.0.1".into(),
            port,
            key: key.to_path_buf(),
            accept_all: true,
            netns: None,
            extra: Vec::new(),
        }
    }
}

/// A running `viewer listen --headless` with snapshots and logs in the
/// test's artifacts; killed on drop.
pub struct Viewer {
    proc: Remoto,
    snaps: PathBuf,
    logs: PathBuf,
    /// The address it listens on (`bind:port`).
    pub addr: String,
}

impl Viewer {
    /// Starts the viewer as `name` and waits for its `listening` event.
    pub fn start(art: &Artifacts, name: &str, opts: &ViewerOptions) -> Viewer {
        let snaps = art.path(&format!("{name}-snapshots"));
        let logs = art.path(&format!("{name}-logs"));
        std::fs::create_dir_all(&snaps).expect("snapshot dir");
        std::fs::create_dir_all(&logs).expect("log dir");
        let mut cmd = match &opts.netns {
            Some(ns) => {
                let mut c = Command::new(crate::process::require_tool("ip", "iproute2"));
                c.args(["netns", "exec", ns]).arg(viewer_bin());
                c
            }
            None => Command::new(viewer_bin()),
        };
        cmd.args(["listen", "--headless", "--bind", &opts.bind, "--port"])
            .arg(opts.port.to_string())
            .arg("--key")
            .arg(&opts.key)
            .arg("--snapshot-dir")
            .arg(&snaps)
            .arg("--log")
            .arg(&logs)
            // The tests compare pixels exactly: `auto` (the default) would
            // switch to JPEG on the slow links of the network tests.
            .args(["--quality", "lossless"])
            .args(&opts.extra)
            .current_dir(workspace_root());
        if opts.accept_all {
            cmd.arg("--accept-all");
        }
        let proc = Remoto::spawn(name, &mut cmd, art);
        let addr = format!("{}:{}", opts.bind, opts.port);
        let mut viewer = Viewer {
            proc,
            snaps,
            logs,
            addr: addr.clone(),
        };
        viewer.wait_event("listening", TIMEOUT, |e| {
            e["event"] == "listening" && e["addr"] == addr.as_str()
        });
        viewer
    }

    /// The viewer process (stdout lines, stdin commands, guard).
    pub fn process(&mut self) -> &mut Remoto {
        &mut self.proc
    }

    /// Every JSON event so far (non-JSON lines are skipped).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.proc
            .lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for an event matching `pred`; panics with every event so far
    /// (and the viewer's stderr) when none came within `timeout`.
    pub fn wait_event(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let found = wait::poll_until(timeout, || {
            self.proc.guard().assert_running();
            self.events().into_iter().find(|e| pred(e))
        });
        found.unwrap_or_else(|waited| {
            panic!(
                "viewer: no {what} event within {waited:?}; events:\n{}\nstderr:\n{}",
                self.proc.stdout_text(),
                self.proc.stderr_text()
            )
        })
    }

    /// Sends one stdin command (`accept N`, `pointer N MASK X Y`, `close N`…).
    pub fn send(&mut self, command: &str) {
        self.proc.send(command);
    }

    /// The snapshot file of session `n`.
    pub fn snapshot_path(&self, session: u64) -> PathBuf {
        self.snaps.join(format!("session-{session}.png"))
    }

    /// Waits until session `session`'s snapshot equals `expected` exactly;
    /// on a timeout saves expected/actual/diff as `label.*` and panics.
    pub fn wait_snapshot(
        &self,
        art: &Artifacts,
        label: &str,
        session: u64,
        expected: &Image,
        timeout: Duration,
    ) {
        let path = self.snapshot_path(session);
        let mut last = None;
        let ok = wait::poll_until(timeout, || {
            let img = Image::load(&path).ok()?;
            let same = &img == expected;
            last = Some(img);
            same.then_some(())
        });
        if ok.is_err() {
            match last {
                Some(img) if img.width == expected.width && img.height == expected.height => {
                    assert_same(art, label, expected, &img)
                }
                Some(img) => {
                    img.save(&art.path(&format!("{label}.actual.png")));
                    expected.save(&art.path(&format!("{label}.expected.png")));
                    panic!(
                        "{label}: snapshot is {}x{}, the display {}x{}",
                        img.width, img.height, expected.width, expected.height
                    )
                }
                None => panic!("{label}: no snapshot {} within {timeout:?}", path.display()),
            }
        }
    }

    /// The session log files (`*.jsonl`) written so far.
    pub fn log_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.logs)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs `viewer log verify` on every session log (there must be at
    /// least `expected` of them); panics with its output on a failure.
    /// Returns the logs' text.
    pub fn verify_logs(&self, expected: usize) -> Vec<String> {
        let logs = self.log_files();
        assert!(
            logs.len() >= expected,
            "{} session logs in {}, expected {expected}",
            logs.len(),
            self.logs.display()
        );
        logs.iter()
            .map(|log| {
                let out = run_ok(
                    Command::new(viewer_bin()).args(["log", "verify"]).arg(log),
                    TIMEOUT,
                );
                assert!(
                    out.stdout_text().contains("OK"),
                    "log verify {}: {}",
                    log.display(),
                    out.stdout_text()
                );
                std::fs::read_to_string(log).expect("read the session log")
            })
            .collect()
    }
}

/// The demo technician's public key (the `Demo` entry of
/// `profiles/example.toml`, whose private key is [`demo_key`]).
pub fn demo_public_key() -> String {
    let text = std::fs::read_to_string(workspace_root().join("profiles/example.toml"))
        .expect("read profiles/example.toml");
    text.lines()
        .find_map(|l| {
            let v = l.strip_prefix("public_key")?.trim().strip_prefix('=')?;
            Some(v.trim().trim_matches('"').to_string())
        })
        .expect("a public_key line in profiles/example.toml")
}

/// How many loopback technician slots the shared packed Remoto carries.
pub const SLOTS: usize = 32;

/// One loopback technician slot of [`shared_remoto`]: a free port chosen
/// when the binary was packed, a clear entry and a crypto entry (demo key)
/// both pointing at `127.0.0.1:port`.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The port a test's listener must use.
    pub port: u16,
    /// The clear technician's ID.
    pub clear_id: String,
    /// The crypto technician's ID (public key: [`demo_public_key`]).
    pub crypto_id: String,
}

/// Fixed entries of [`shared_remoto`] for network-namespace tests: clear
/// `Net` and crypto `NetK` at `10.77.0.2:5500` (the technician's side of
/// [`crate::netns::NetPair`]).
pub const NETNS_CLEAR_ID: &str = "Net";
/// See [`NETNS_CLEAR_ID`].
pub const NETNS_CRYPTO_ID: &str = "NetK";

struct Shared {
    bin: PathBuf,
    slots: Vec<Slot>,
    next: std::sync::atomic::AtomicUsize,
}

fn shared() -> &'static Shared {
    static SHARED: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| {
        let key = demo_public_key();
        let mut ports = std::collections::BTreeSet::new();
        while ports.len() < SLOTS {
            ports.insert(crate::net::free_port());
        }
        let slots: Vec<Slot> = ports
            .into_iter()
            .enumerate()
            .map(|(i, port)| Slot {
                port,
                clear_id: format!("C{i}"),
                crypto_id: format!("K{i}"),
            })
            .collect();
        let mut entries = Vec::new();
        for s in &slots {
            let ep = format!("127.0.0.1:{}", s.port);
            entries.push(TechnicianEntry::clear(&s.clear_id, &ep));
            entries.push(TechnicianEntry::crypto(&s.crypto_id, &ep, &key));
        }
        let net = format!("{}:5500", crate::netns::TECHNICIAN_ADDR);
        entries.push(TechnicianEntry::clear(NETNS_CLEAR_ID, &net));
        entries.push(TechnicianEntry::crypto(NETNS_CRYPTO_ID, &net, &key));
        // One copy per test process (a debug remoto is large): named after
        // the test binary, replaced on every run.
        let exe = std::env::current_exe().expect("test executable");
        let stem = exe
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tests")
            .to_string();
        let art = Artifacts::new(&format!("_packed-{stem}"));
        let bin = packed_remoto(&art, "Remoto", &team_profile(&entries, ""));
        Shared {
            bin,
            slots,
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    })
}

/// The Remoto packed once per test process with [`SLOTS`] loopback slots
/// and the network-namespace entries, and the next unused slot (panics
/// when a test process uses more than [`SLOTS`]).
pub fn shared_remoto() -> (PathBuf, Slot) {
    let s = shared();
    let i = s.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let slot = s
        .slots
        .get(i)
        .unwrap_or_else(|| panic!("more than {SLOTS} slots used in one test process"))
        .clone();
    (s.bin.clone(), slot)
}
