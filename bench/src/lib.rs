//! Side-by-side benchmark of Remoto against x11vnc and TigerVNC (see
//! `bench/README.md` and the project's bench.md).
//!
//! Every contestant captures the same kind of Xvfb display running the same
//! deterministic workload script, and sends to the same measuring client
//! built on the `rfb` crate; the harness writes JSON and Markdown tables
//! with ratios against the best peer.

pub mod client;
pub mod report;
pub mod run;
pub mod viewer_load;
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds `remoto` with the same target directory and profile as this
/// executable (`<target>/<profile>/bench`) and returns its path.
pub fn build_remoto() -> Result<PathBuf, String> {
    build_bin("remoto")
}

/// Builds `package`'s binary of the same name with the same target
/// directory and profile as this executable and returns its path.
pub fn build_bin(package: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let profile_dir = exe
        .parent()
        .ok_or("the bench executable has no directory")?
        .to_path_buf();
    let target = profile_dir
        .parent()
        .ok_or("the bench executable is not in <target>/<profile>/")?;
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("no profile directory name")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", target)
        .env_remove("REMOTO_PROFILE")
        .args(["build", "-p", package]);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build {package}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo build -p {package}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = profile_dir.join(package);
    if !bin.is_file() {
        return Err(format!("{} missing after cargo build", bin.display()));
    }
    Ok(bin)
}

/// `lscpu`'s model name and the CPU count.
pub fn machine() -> String {
    let out = Command::new("lscpu")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let field = |k: &str| {
        out.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "{} ({} CPUs, {})",
        field("Model name"),
        field("CPU(s)"),
        field("Hypervisor vendor")
    )
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `date -u` in ISO form.
pub fn now_utc() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "?".into())
}
