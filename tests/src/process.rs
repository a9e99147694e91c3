//! Child processes: finding the tools, spawning with logs, and a guard that
//! kills and reaps by PID on drop (even when the test panics).

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long [`ChildGuard::kill`] waits after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// Finds `tool` on `PATH` (or as an absolute path) and returns its full path.
///
/// Panics — the test fails, never skips — with a message naming the Debian
/// package that provides it, and the script that installs everything.
pub fn require_tool(tool: &str, package: &str) -> PathBuf {
    if let Some(p) = find_tool(tool) {
        return p;
    }
    panic!(
        "required tool `{tool}` is not installed: install the Debian package `{package}` \
         (all test dependencies: .ci/install-deps.sh)"
    );
}

/// Looks `tool` up on `PATH` (an absolute path is checked as is).
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let candidate = Path::new(tool);
    if candidate.is_absolute() {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
}

/// A spawned process that is stopped (SIGTERM, then SIGKILL, by its PID)
/// and reaped when the guard is dropped, so no test leaves a process behind.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    status: Option<ExitStatus>,
    log_dir: Option<PathBuf>,
}

impl ChildGuard {
    /// Wraps an already spawned child.
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        Self {
            name: name.into(),
            child: Some(child),
            status: None,
            log_dir: None,
        }
    }

    /// Spawns `cmd`, sending its stdout and stderr to
    /// `<log_dir>/<name>.stdout.log` and `<name>.stderr.log`.
    pub fn spawn_logged(name: &str, cmd: &mut Command, log_dir: &Path) -> Self {
        let out = File::create(log_dir.join(format!("{name}.stdout.log")))
            .unwrap_or_else(|e| panic!("cannot create the stdout log of {name}: {e}"));
        let err = File::create(log_dir.join(format!("{name}.stderr.log")))
            .unwrap_or_else(|e| panic!("cannot create the stderr log of {name}: {e}"));
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let mut guard = Self::new(name, child);
        guard.log_dir = Some(log_dir.to_path_buf());
        guard
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Mutable access to the child (e.g. to take its stdout pipe).
    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("child already reaped")
    }

    /// Its exit status if it has exited (reaping it), `None` while it runs.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Some(child) = self.child.as_mut()
        {
            self.status = child.try_wait().ok().flatten();
        }
        self.status
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics unless the process is still running, quoting its stderr log.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.try_status() {
            panic!(
                "{} (pid {}) exited early with {status}; stderr:\n{}",
                self.name,
                self.pid(),
                self.stderr_tail()
            );
        }
    }

    /// The last lines of the stderr log (empty when not logged).
    pub fn stderr_tail(&self) -> String {
        let Some(dir) = &self.log_dir else {
            return String::new();
        };
        let text = std::fs::read_to_string(dir.join(format!("{}.stderr.log", self.name)))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops and reaps the process now; idempotent. It gets SIGTERM first
    /// and [`TERM_GRACE`] to exit, then SIGKILL: peers such as x11vnc and
    /// TigerVNC free their System V shared-memory segments only on a clean
    /// exit, and segments left by SIGKILL pile up until `shmget` fails
    /// (the kernel's limit is 4096) and every later run of those peers
    /// breaks.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.status.is_none() && matches!(child.try_wait(), Ok(None)) {
                let terminated = i32::try_from(child.id())
                    .ok()
                    .and_then(rustix::process::Pid::from_raw)
                    .is_some_and(|pid| {
                        rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_ok()
                    });
                let deadline = Instant::now() + TERM_GRACE;
                while terminated && Instant::now() < deadline {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished command produced.
#[derive(Debug)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl Output {
    /// stdout as (lossy) UTF-8.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as (lossy) UTF-8.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs a command to completion with a deadline; the process is killed and
/// an error returned when it takes longer than `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut guard = ChildGuard::new(program.clone(), child);
    let mut out_pipe = guard.child_mut().stdout.take().expect("piped stdout");
    let mut err_pipe = guard.child_mut().stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let status = guard.wait_exit(timeout);
    if status.is_none() {
        guard.kill();
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{program} did not finish within {timeout:?} ({cmd:?}); stderr: {}",
            String::from_utf8_lossy(&stderr)
        )),
    }
}

/// Runs a command that must succeed within `timeout`; panics otherwise,
/// with its stderr.
pub fn run_ok(cmd: &mut Command, timeout: Duration) -> Output {
    let out = run_with_timeout(cmd, timeout).unwrap_or_else(|e| panic!("{e}"));
    if !out.status.success() {
        panic!("{cmd:?} failed with {}: {}", out.status, out.stderr_text());
    }
    out
}

/// A `Command` for `program` with `args`.
pub fn command<I, S>(program: impl AsRef<OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}
