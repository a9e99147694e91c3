//! Viewer load: one Xvfb running the typing workload, N real `remoto`
//! processes (crypto entry) streaming it at once to one real
//! `viewer listen --headless`; the figures are the viewer's CPU and memory,
//! so a technician knows what 1, 5 or 20 customers cost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tests::{Artifacts, ChildGuard, XServer};

use crate::run::{cpu_ticks, peak_rss_mib, wait_until};
use crate::workload::{Generator, Workload};

/// Screen size of the customer display.
pub const SIZE: (u16, u16) = (1280, 800);

/// The figures of one viewer-load run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ViewerLoadFigures {
    /// Concurrent sessions asked for.
    pub sessions: usize,
    /// Seconds measured (while the workload ran).
    pub seconds: f64,
    /// Sessions connected when the measurement started.
    pub connected: usize,
    /// Sessions that ended during the measurement.
    pub ended: usize,
    /// Viewer CPU (utime + stime) over the measurement, percent of one core.
    pub viewer_cpu_pct: f64,
    /// The same per session.
    pub viewer_cpu_pct_per_session: f64,
    /// Viewer resident memory at the end (VmRSS), MiB.
    pub viewer_rss_mib: f64,
    /// Viewer peak resident memory (VmHWM), MiB.
    pub viewer_peak_rss_mib: f64,
    /// All the `remoto` processes together, percent of one core.
    pub remotos_cpu_pct: f64,
    /// Why the run failed, if it did.
    pub error: Option<String>,
}

impl ViewerLoadFigures {
    fn failed(sessions: usize, e: String) -> Self {
        ViewerLoadFigures {
            sessions,
            seconds: 0.0,
            connected: 0,
            ended: 0,
            viewer_cpu_pct: 0.0,
            viewer_cpu_pct_per_session: 0.0,
            viewer_rss_mib: 0.0,
            viewer_peak_rss_mib: 0.0,
            remotos_cpu_pct: 0.0,
            error: Some(e),
        }
    }
}

/// The release (or same-profile) `viewer` and `remoto` binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `viewer`.
    pub viewer: PathBuf,
    /// `remoto` (unpacked; each run packs its own profile).
    pub remoto: PathBuf,
}

/// Runs `sessions` customers against one viewer for `seconds`.
pub fn run(
    bins: &Binaries,
    art: &Artifacts,
    sessions: usize,
    seconds: f64,
    ticks: f64,
) -> ViewerLoadFigures {
    let art = art.sub(&format!("viewer-load-{sessions}"));
    run_inner(bins, &art, sessions, seconds, ticks)
        .unwrap_or_else(|e| ViewerLoadFigures::failed(sessions, e))
}

/// `connected` and `ended` events in the viewer's stdout log so far.
fn session_events(stdout_log: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(stdout_log).unwrap_or_default();
    let count = |event: &str| {
        let needle = format!("\"event\":\"{event}\"");
        text.lines().filter(|l| l.contains(&needle)).count()
    };
    (count("connected"), count("ended"))
}

/// VmRSS of `pid` in MiB.
fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `viewer keygen --out`: the key file and the public-key line.
fn keygen(viewer: &Path, art: &Artifacts) -> Result<(PathBuf, String), String> {
    let key = art.path("technician.key");
    let out = Command::new(viewer)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .map_err(|e| format!("cannot run viewer keygen: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The line to paste into the profile: `public_key = "rmt1…"`.
    let public = text
        .split('"')
        .find(|w| w.starts_with("rmt1"))
        .map(str::to_string);
    match (out.status.success(), public) {
        (true, Some(p)) => Ok((key, p)),
        _ => Err(format!(
            "viewer keygen failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// Remoto packed with one crypto technician at `127.0.0.1:port`.
fn packed_remoto(
    remoto: &Path,
    art: &Artifacts,
    port: u16,
    public: &str,
) -> Result<PathBuf, String> {
    let profile = format!(
        "[brand]\nname = \"Remoto bench\"\n\n[session]\ncontrol = \"view-only\"\n\
         share_system_info = [\"os\"]\n\n\
         [[technician]]\nid = \"Load\"\nendpoints = [\"127.0.0.1:{port}\"]\nmode = \"crypto\"\n\
         public_key = \"{public}\"\n"
    );
    let bin = std::fs::read(remoto).map_err(|e| format!("read {}: {e}", remoto.display()))?;
    let packed = profiles::pack(&bin, &profile).map_err(|e| format!("pack: {e}"))?;
    let out = art.path("Remoto-load");
    std::fs::write(&out, packed).map_err(|e| format!("write {}: {e}", out.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn run_inner(
    bins: &Binaries,
    art: &Artifacts,
    sessions: usize,
    seconds: f64,
    ticks: f64,
) -> Result<ViewerLoadFigures, String> {
    let xs = XServer::xvfb(art, u32::from(SIZE.0), u32::from(SIZE.1));
    let display = xs.display();
    let generator = Generator::prepare(&display, Workload::Typing).map_err(|e| e.to_string())?;
    let (key, public) = keygen(&bins.viewer, art)?;
    let port = tests::net::free_port();
    let logs = art.path("viewer-logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut cmd = Command::new(&bins.viewer);
    cmd.args([
        "listen",
        "--headless",
        "--accept-all",
        "--bind",
        "127.0.0.1",
    ])
    .arg("--port")
    .arg(port.to_string())
    .arg("--key")
    .arg(&key)
    .arg("--log")
    .arg(&logs)
    .args(["--quality", "lossless"]);
    let viewer = ChildGuard::spawn_logged("viewer", &mut cmd, art.dir());
    let viewer_pid = viewer.pid();
    tests::net::wait_listening(port, Duration::from_secs(20));
    let stdout_log = art.path("viewer.stdout.log");
    let remoto = packed_remoto(&bins.remoto, art, port, &public)?;
    // One customer at a time, each connected before the next (the viewer
    // limits handshakes in progress per address).
    let mut customers = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let mut cmd = Command::new(&remoto);
        cmd.args(["connect", "Load", "--yes", "--display", &display]);
        customers.push(ChildGuard::spawn_logged(
            &format!("remoto-{}", i + 1),
            &mut cmd,
            art.dir(),
        ));
        if !wait_until(Duration::from_secs(30), || {
            session_events(&stdout_log).0 > i
        }) {
            return Err(format!(
                "customer {} did not connect within 30 s (viewer stderr: {})",
                i + 1,
                viewer.stderr_tail()
            ));
        }
    }
    // Let the first pictures pass.
    std::thread::sleep(Duration::from_secs(1));
    let (connected, ended0) = session_events(&stdout_log);
    let customer_ticks =
        |c: &[ChildGuard]| -> u64 { c.iter().filter_map(|g| cpu_ticks(g.pid())).sum() };
    let v0 = cpu_ticks(viewer_pid).ok_or("the viewer is gone")?;
    let r0 = customer_ticks(&customers);
    let t0 = Instant::now();
    let flips = Arc::new(Mutex::new(Vec::new()));
    generator
        .run(Duration::from_secs_f64(seconds), flips)
        .map_err(|e| e.to_string())?;
    let elapsed = t0.elapsed().as_secs_f64();
    let v1 = cpu_ticks(viewer_pid).ok_or("the viewer died during the run")?;
    let r1 = customer_ticks(&customers);
    let (_, ended1) = session_events(&stdout_log);
    let pct = |ticks_used: u64| ticks_used as f64 / ticks / elapsed * 100.0;
    let viewer_cpu_pct = pct(v1 - v0);
    let figures = ViewerLoadFigures {
        sessions,
        seconds: elapsed,
        connected: connected - ended0,
        ended: ended1 - ended0,
        viewer_cpu_pct,
        viewer_cpu_pct_per_session: viewer_cpu_pct / sessions.max(1) as f64,
        viewer_rss_mib: rss_mib(viewer_pid).unwrap_or(0.0),
        viewer_peak_rss_mib: peak_rss_mib(viewer_pid).unwrap_or(0.0),
        remotos_cpu_pct: pct(r1.saturating_sub(r0)),
        error: None,
    };
    drop(customers);
    drop(viewer);
    drop(xs);
    Ok(figures)
}

/// The Markdown table of viewer-load runs.
pub fn markdown(runs: &[ViewerLoadFigures], date: &str, machine: &str, load: &str) -> String {
    let mut s = format!(
        "# Viewer load ({date})\n\nMachine: {machine}; load average at start {load}.\n\n\
         One Xvfb ({}×{}) runs the typing workload; N `remoto connect` processes (crypto) \
         stream it at once to one `viewer listen --headless --quality lossless`. CPU = \
         utime+stime over the workload, in % of one core.\n\n\
         | sessions | connected | ended | viewer CPU % | per session % | viewer RSS MiB | peak RSS MiB | all remotos CPU % | seconds |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        SIZE.0, SIZE.1
    );
    for r in runs {
        if let Some(e) = &r.error {
            s.push_str(&format!("| {} | FAILED: {e} |||||||\n", r.sessions));
            continue;
        }
        s.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            r.sessions,
            r.connected,
            r.ended,
            r.viewer_cpu_pct,
            r.viewer_cpu_pct_per_session,
            r.viewer_rss_mib,
            r.viewer_peak_rss_mib,
            r.remotos_cpu_pct,
            r.seconds
        ));
    }
    s
}
