//! `Remoto.exe` under wine: the Windows build of `remoto` (cross-built
//! with mingw), a private wine prefix under the target directory, and
//! snapshots of that prefix (files and registry) to prove that Remoto
//! writes nothing there.
//!
//! The prefix gets a TEST-ONLY `bcryptprimitives.dll` (source in
//! `tests/wine/processprng.c`, built here with mingw): Debian's wine 8
//! lacks it and Rust's standard library needs its `ProcessPrng`. It is
//! never part of what support teams ship.
//!
//! Wine tests of one process take turns ([`lock`]): they share the
//! prefix, and so one `wineserver`, whose desktop follows the X display of
//! the first program it started; every turn begins and ends by stopping
//! the prefix's wineserver (only processes of this private prefix, all
//! started by the tests).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::artifacts::target_dir;
use crate::process::{require_tool, run_with_timeout};
use crate::remoto::workspace_root;

/// The Rust target of `Remoto.exe`.
pub const TARGET: &str = "x86_64-pc-windows-gnu";
/// The 64-bit wine loader (Debian package `wine64`).
pub const WINE64: &str = "/usr/lib/wine/wine64";
/// The wine server of the loader above.
pub const WINESERVER: &str = "/usr/lib/wine/wineserver";
/// The mingw C compiler (and Rust's linker for [`TARGET`]).
pub const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";

static TURN: Mutex<()> = Mutex::new(());

/// Takes this process' turn at the wine prefix (see the module doc).
pub fn lock() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The private wine prefix of the tests, created on first use.
#[derive(Debug)]
pub struct WinePrefix {
    dir: PathBuf,
}

/// The prefix, initialised once per process (`wineboot --init` the first
/// time the target directory sees it, ~15–25 s; the test DLL each time).
pub fn prefix() -> &'static WinePrefix {
    static PREFIX: OnceLock<WinePrefix> = OnceLock::new();
    PREFIX.get_or_init(WinePrefix::init)
}

impl WinePrefix {
    fn init() -> WinePrefix {
        require_tool(WINE64, "wine64");
        require_tool(WINESERVER, "wine");
        require_tool(MINGW_GCC, "gcc-mingw-w64-x86-64-posix");
        let prefix = WinePrefix {
            dir: target_dir().join("wine-prefix"),
        };
        if !prefix.dir.join("system.reg").is_file() {
            std::fs::create_dir_all(&prefix.dir).expect("create the wine prefix directory");
            let mut cmd = prefix.env(Command::new(WINE64));
            cmd.args(["wineboot", "--init"]).env_remove("DISPLAY");
            let out = run_with_timeout(&mut cmd, Duration::from_secs(180))
                .unwrap_or_else(|e| panic!("wineboot --init: {e}"));
            assert!(
                out.status.success(),
                "wineboot --init failed: {}",
                out.stderr_text()
            );
            prefix.stop_server();
            assert!(
                prefix.dir.join("system.reg").is_file(),
                "wineboot made no registry in {}",
                prefix.dir.display()
            );
        }
        let dll = build_prng_dll();
        let dst = prefix
            .dir
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        std::fs::copy(&dll, &dst)
            .unwrap_or_else(|e| panic!("copy the test DLL to {}: {e}", dst.display()));
        prefix
    }

    /// The prefix directory (`WINEPREFIX`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets the wine environment of this prefix on `cmd`: `WINEPREFIX`,
    /// `WINEDEBUG=-all`, no Mono/Gecko installers.
    pub fn env(&self, mut cmd: Command) -> Command {
        cmd.env("WINEPREFIX", &self.dir)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("WINELOADER")
            .env_remove("WINESERVER");
        cmd
    }

    /// `wine64 exe args…` in this prefix, on X display `display` (`None`:
    /// no display).
    pub fn command(&self, exe: &Path, display: Option<&str>) -> Command {
        let mut cmd = self.env(Command::new(WINE64));
        cmd.arg(exe).current_dir(workspace_root());
        match display {
            Some(d) => cmd.env("DISPLAY", d),
            None => cmd.env_remove("DISPLAY"),
        };
        cmd
    }

    /// Stops this prefix's wineserver and every wine process of the
    /// prefix (`wineserver -k`), then waits until it is gone, so that the
    /// registry is saved to the `.reg` files.
    pub fn stop_server(&self) {
        let mut kill = self.env(Command::new(WINESERVER));
        kill.arg("-k");
        let _ = run_with_timeout(&mut kill, Duration::from_secs(30));
        let mut wait = self.env(Command::new(WINESERVER));
        wait.arg("-w");
        let _ = run_with_timeout(&mut wait, Duration::from_secs(30));
    }

    /// Every file and directory of the prefix (relative paths, with sizes
    /// for files) and every registry key and value of its `.reg` files
    /// (timestamps removed). Stop the server first ([`Self::stop_server`])
    /// so that the registry files are current.
    pub fn snapshot(&self) -> PrefixSnapshot {
        let mut files = BTreeSet::new();
        walk(&self.dir, &self.dir, &mut files);
        let mut registry = BTreeSet::new();
        for hive in ["system.reg", "user.reg", "userdef.reg"] {
            let text = std::fs::read_to_string(self.dir.join(hive)).unwrap_or_default();
            registry.extend(registry_entries(hive, &text));
        }
        PrefixSnapshot { files, registry }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        // The registry hives are compared by content; `dosdevices` holds
        // links to the Unix file system (not part of the prefix).
        if matches!(rel.as_str(), "system.reg" | "user.reg" | "userdef.reg")
            || rel.starts_with("dosdevices")
        {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            out.insert(format!("{rel}/"));
            walk(root, &path, out);
        } else {
            out.insert(format!("{rel} ({} bytes)", meta.len()));
        }
    }
}

/// Wine's own device bookkeeping: its display driver rewrites the monitor
/// and adapter keys (geometry, driver date) whenever a desktop starts on
/// another X screen, whichever program started it. Not written by Remoto.
const WINE_DEVICE_KEYS: [&str; 3] = [
    "[System\\\\CurrentControlSet\\\\Enum\\\\",
    "[System\\\\CurrentControlSet\\\\Control\\\\Class\\\\",
    "[Software\\\\Microsoft\\\\Windows NT\\\\CurrentVersion\\\\NetworkCards",
];

/// `hive:[key]` and `hive:[key] value-line` entries of a wine `.reg` file,
/// without the per-key timestamps and `#time=` lines, nor wine's own
/// device keys ([`WINE_DEVICE_KEYS`]).
pub fn registry_entries(hive: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut key = String::new();
    for line in text.lines() {
        if WINE_DEVICE_KEYS.iter().any(|k| line.starts_with(k)) {
            key.clear();
            continue;
        }
        if line.starts_with('[') {
            // `[Software\\Wine] 1700000000`: drop the modification time.
            key = match line.rfind(']') {
                Some(end) => line[..=end].to_string(),
                None => line.to_string(),
            };
            out.push(format!("{hive}:{key}"));
        } else if line.starts_with('#') || line.trim().is_empty() || key.is_empty() {
            continue;
        } else {
            out.push(format!("{hive}:{key} {line}"));
        }
    }
    out
}

/// What a prefix holds at one moment ([`WinePrefix::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixSnapshot {
    /// Files (with sizes) and directories, relative to the prefix.
    pub files: BTreeSet<String>,
    /// Registry keys and values.
    pub registry: BTreeSet<String>,
}

impl PrefixSnapshot {
    /// What `after` has that `self` has not, and what it lost, as text
    /// lines (`+ …`, `- …`); empty when nothing changed.
    pub fn diff(&self, after: &PrefixSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (a, b) in [
            (&self.files, &after.files),
            (&self.registry, &after.registry),
        ] {
            out.extend(b.difference(a).map(|l| format!("+ {l}")));
            out.extend(a.difference(b).map(|l| format!("- {l}")));
        }
        out
    }
}

/// Builds the TEST-ONLY `bcryptprimitives.dll` into the target directory.
fn build_prng_dll() -> PathBuf {
    let src = workspace_root().join("tests/wine/processprng.c");
    let dir = target_dir().join("wine-test-dll");
    std::fs::create_dir_all(&dir).expect("create the DLL build directory");
    let out = dir.join("bcryptprimitives.dll");
    let mut cmd = Command::new(MINGW_GCC);
    cmd.args(["-shared", "-O2", "-s", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-ladvapi32");
    let res = run_with_timeout(&mut cmd, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{MINGW_GCC}: {e}"));
    assert!(
        res.status.success(),
        "building the test DLL failed: {}",
        res.stderr_text()
    );
    out
}

/// Builds `remoto.exe` (debug profile, [`TARGET`], the tests' target
/// directory) once per process and returns its path. The first build of
/// the Windows dependencies takes several minutes; later ones are
/// incremental.
pub fn remoto_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        require_tool(MINGW_GCC, "gcc-mingw-w64-x86-64-posix");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = target_dir();
        let out = Command::new(cargo)
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("REMOTO_PROFILE")
            .args(["build", "-p", "remoto", "--target", TARGET])
            .output()
            .expect("cannot run cargo to build remoto.exe");
        assert!(
            out.status.success(),
            "`cargo build -p remoto --target {TARGET}` failed ({}); is the Rust target \
             installed (`rustup target add {TARGET}`)?\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let exe = target.join(TARGET).join("debug").join("remoto.exe");
        assert!(exe.is_file(), "{} missing after cargo build", exe.display());
        exe
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_entries_drop_timestamps() {
        let text = "WINE REGISTRY Version 2\n#arch=win64\n\n[Software\\\\Wine] 1700000000\n\
                    #time=1d9a\n\"Version\"=\"win10\"\n";
        assert_eq!(
            registry_entries("user.reg", text),
            vec![
                "user.reg:[Software\\\\Wine]".to_string(),
                "user.reg:[Software\\\\Wine] \"Version\"=\"win10\"".to_string(),
            ]
        );
    }
}
