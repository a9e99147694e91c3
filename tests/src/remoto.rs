//! The product binaries under test (`remoto`, `viewer`): built once per test
//! process with the same cargo, target directory and profile as the tests,
//! and run under [`ChildGuard`]s with their output kept as artifacts.
//!
//! [`Remoto`] runs `remoto connect …` with a stdin pipe (for the `allow`,
//! `stop` and `close` commands) and collects its stdout lines while also
//! writing them to `<name>.stdout.log`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::artifacts::{Artifacts, target_dir};
use crate::process::ChildGuard;
use crate::wait;

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Builds `remoto` and `viewer` (debug profile, the tests' target directory)
/// once per process and returns `<target>/debug`.
fn built_bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = target_dir();
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("REMOTO_PROFILE")
            .args(["build", "-p", "remoto", "-p", "viewer"])
            .output()
            .expect("cannot run cargo to build remoto and viewer");
        assert!(
            out.status.success(),
            "`cargo build -p remoto -p viewer` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug")
    })
}

/// The `remoto` binary (built on first use).
pub fn remoto_bin() -> PathBuf {
    let p = built_bin_dir().join("remoto");
    assert!(p.is_file(), "{} missing after cargo build", p.display());
    p
}

/// The `viewer` binary (built on first use).
pub fn viewer_bin() -> PathBuf {
    let p = built_bin_dir().join("viewer");
    assert!(p.is_file(), "{} missing after cargo build", p.display());
    p
}

/// A running program whose stdout lines are collected (and logged) and
/// whose stdin is a pipe the test writes commands to.
pub struct Remoto {
    guard: ChildGuard,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    name: String,
    stderr_log: PathBuf,
}

impl Remoto {
    /// Starts `cmd` as `name`: stdin piped, stdout collected and written to
    /// `<dir>/<name>.stdout.log`, stderr to `<dir>/<name>.stderr.log`.
    pub fn spawn(name: &str, cmd: &mut Command, artifacts: &Artifacts) -> Remoto {
        let stderr_log = artifacts.path(&format!("{name}.stderr.log"));
        let err = std::fs::File::create(&stderr_log)
            .unwrap_or_else(|e| panic!("cannot create the stderr log of {name}: {e}"));
        let mut log = std::fs::File::create(artifacts.path(&format!("{name}.stdout.log")))
            .unwrap_or_else(|e| panic!("cannot create the stdout log of {name}: {e}"));
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let mut guard = ChildGuard::new(name, child);
        let stdin = guard.child_mut().stdin.take();
        let stdout = guard.child_mut().stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                sink.lock().expect("lines").push(line);
            }
        });
        Remoto {
            guard,
            stdin,
            lines,
            reader: Some(reader),
            name: name.to_string(),
            stderr_log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }

    /// The guard (e.g. to check it is still running).
    pub fn guard(&mut self) -> &mut ChildGuard {
        &mut self.guard
    }

    /// Its stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// All of stdout so far, one string.
    pub fn stdout_text(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits (up to `timeout`) for a stdout line matching `pred` and returns
    /// it; panics with the output so far (and the exit status if the process
    /// ended) when none came.
    pub fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let lines = self.lines.clone();
        let found = wait::poll_until(timeout, || {
            lines
                .lock()
                .expect("lines")
                .iter()
                .find(|l| pred(l))
                .cloned()
        });
        match found {
            Ok(l) => l,
            Err(waited) => {
                let status = self.guard.try_status();
                panic!(
                    "{}: no line {what} within {waited:?} (exit status: {status:?}); stdout:\n{}",
                    self.name,
                    self.stdout_text()
                )
            }
        }
    }

    /// Writes one command line to stdin.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("cannot write {command:?} to {}: {e}", self.name));
    }

    /// Closes stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `timeout` for the process to exit; once it has, waits for
    /// its stdout to be fully read.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = self.guard.wait_exit(timeout)?;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        Some(status)
    }
}

/// Parses the first JSON object line of `lines` whose `"event"` is `event`.
pub fn json_event(lines: &[String], event: &str) -> Option<serde_json::Value> {
    lines.iter().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v.get("event")?.as_str()? == event).then_some(v)
    })
}

/// The process ids whose parent is `pid` (from `/proc/*/stat`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let child: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid …: comm may hold spaces, split after ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == pid).then_some(child)
    })
    .collect()
}

/// `BIN connect ID --yes --display :N [extra]` (a packed copy of remoto or
/// the test build), run inside network namespace `netns` when given.
pub fn connect_command(
    bin: &Path,
    id: &str,
    display: &str,
    extra: &[&str],
    netns: Option<&str>,
) -> Command {
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new(crate::process::require_tool("ip", "iproute2"));
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(["connect", id, "--yes", "--display", display])
        .args(extra)
        .env_remove("DISPLAY")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .current_dir(workspace_root());
    cmd
}

/// The resident set size of process `pid` in KiB (`VmRSS` in
/// `/proc/PID/status`), `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Every descendant of `pid` (children, their children, …).
pub fn descendants_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for c in children_of(p) {
            out.push(c);
            todo.push(c);
        }
    }
    out
}

/// One `strace` line's verdict: `Some(reason)` when it breaks "never
/// listens, writes nothing".
pub fn forbidden_syscall(line: &str) -> Option<&'static str> {
    // Lines look like `1234  openat(AT_FDCWD, "/path", O_RDONLY|O_CLOEXEC) = 3`
    // (or `<unfinished ...>` / `resumed>` halves).
    let call = line
        .split_once(char::is_whitespace)
        .map(|(_, rest)| rest.trim_start())
        .unwrap_or(line);
    if call.starts_with("listen(") {
        return Some("listen");
    }
    if call.starts_with("accept(") || call.starts_with("accept4(") {
        return Some("accept");
    }
    if call.starts_with("bind(") {
        return Some("bind");
    }
    if call.starts_with("rename(") || call.starts_with("unlink(") || call.starts_with("creat(") {
        return Some("file creation/removal");
    }
    if call.starts_with("openat(") {
        let writes = ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
            .iter()
            .any(|f| call.contains(f));
        let path = call.split('"').nth(1).unwrap_or("");
        // Device nodes are not files on disk: /dev/null (stdio set-up),
        // /dev/shm is *not* exempt (shared memory files would be writes).
        let device = path.starts_with("/dev/") && !path.starts_with("/dev/shm");
        if writes && !device {
            return Some("open for writing");
        }
    }
    None
}
