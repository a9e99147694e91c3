//! One measured run: a fresh Xvfb, the workload's scene, one contestant
//! sending to the measuring client, the figures.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tests::{Artifacts, ChildGuard, XServer, require_tool};
use tokio::sync::watch;

use crate::client::{self, Link, Measure};
use crate::workload::{self, Generator, PROBE_SIZE, Workload};

/// The servers compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contestant {
    /// `remoto connect` to a clear (plain RFB) technician entry.
    RemotoClear,
    /// `remoto connect` to a crypto (Noise IK) technician entry.
    RemotoCrypto,
    /// `x11vnc -connect` (reverse connection).
    X11vnc,
    /// TigerVNC's scraping server `X0tigervnc` (what `x0vncserver` runs),
    /// which cannot connect out: the client connects to it on loopback.
    Tigervnc,
}

impl Contestant {
    /// All, in table order.
    pub const ALL: [Contestant; 4] = [
        Contestant::RemotoClear,
        Contestant::RemotoCrypto,
        Contestant::X11vnc,
        Contestant::Tigervnc,
    ];

    /// Name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Contestant::RemotoClear => "remoto-clear",
            Contestant::RemotoCrypto => "remoto-crypto",
            Contestant::X11vnc => "x11vnc",
            Contestant::Tigervnc => "tigervnc",
        }
    }

    /// Parses [`Contestant::name`].
    pub fn parse(s: &str) -> Option<Contestant> {
        Contestant::ALL.into_iter().find(|c| c.name() == s)
    }

    /// A peer (not Remoto).
    pub fn is_peer(self) -> bool {
        matches!(self, Contestant::X11vnc | Contestant::Tigervnc)
    }
}

/// What every run shares: the packed Remoto, the technician key, the
/// reverse-connection listener, where logs go.
pub struct Env {
    /// Remoto with the bench profile packed in.
    pub remoto: PathBuf,
    /// The bench technician's key pair (the crypto entry pins its public key).
    pub keypair: crypto::keys::KeyPair,
    /// Where reverse connections arrive.
    pub listener: TcpListener,
    /// Logs of every run.
    pub artifacts: Artifacts,
    /// Clock ticks a second (/proc times).
    pub ticks: f64,
}

/// The technician IDs in the bench profile.
pub const CLEAR_ID: &str = "BenchClear";
/// The crypto technician ID.
pub const CRYPTO_ID: &str = "BenchCrypto";

impl Env {
    /// Binds the listener, makes a key and packs `remoto_bin` with a
    /// profile whose two entries point at the listener.
    pub fn new(remoto_bin: &Path, artifacts: Artifacts) -> Result<Env, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let keypair = crypto::keys::KeyPair::generate().map_err(|e| e.to_string())?;
        let profile = format!(
            "[brand]\nname = \"Remoto bench\"\n\n[session]\ncontrol = \"view-only\"\n\
             share_system_info = [\"os\", \"screen\"]\n\n\
             [[technician]]\nid = \"{CLEAR_ID}\"\nendpoints = [\"127.0.0.1:{port}\"]\nmode = \"clear\"\n\n\
             [[technician]]\nid = \"{CRYPTO_ID}\"\nendpoints = [\"127.0.0.1:{port}\"]\nmode = \"crypto\"\n\
             public_key = \"{}\"\n",
            keypair.public
        );
        let profile_path = artifacts.write("bench-profile.toml", &profile);
        profiles::load_file(&profile_path, None).map_err(|e| format!("bench profile: {e}"))?;
        let bin =
            std::fs::read(remoto_bin).map_err(|e| format!("read {}: {e}", remoto_bin.display()))?;
        let packed = profiles::pack(&bin, &profile).map_err(|e| format!("pack: {e}"))?;
        let remoto = artifacts.path("Remoto-bench");
        std::fs::write(&remoto, packed).map_err(|e| format!("write {}: {e}", remoto.display()))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&remoto, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        let ticks = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0);
        Ok(Env {
            remoto,
            keypair,
            listener,
            artifacts,
            ticks,
        })
    }
}

/// What one run is.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Spec {
    /// Screen width.
    pub width: u16,
    /// Screen height.
    pub height: u16,
    /// The script.
    pub workload: Workload,
    /// The server.
    pub contestant: Contestant,
    /// JPEG allowed (QualityLevel 8).
    pub jpeg: bool,
    /// How long the script runs (seconds).
    pub seconds: f64,
}

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figures {
    /// The run.
    pub spec: Spec,
    /// Why the run failed (no figures then).
    pub error: Option<String>,
    /// Bytes from the server during the script.
    pub bytes: u64,
    /// Bytes from the server in total (initial picture included).
    pub bytes_total: u64,
    /// Server CPU seconds (user + system) during the script.
    pub server_cpu_s: f64,
    /// X server CPU seconds during the script (drawing + what the VNC
    /// server's screen reads cost it).
    pub x_cpu_s: f64,
    /// Peak resident memory of the server (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// FramebufferUpdates a second during the script.
    pub updates_per_s: f64,
    /// Probe flips seen / made.
    pub probe_seen: usize,
    /// Probe flips made.
    pub probe_flips: usize,
    /// Latency percentiles, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Contestant start → the client's picture matches the screen, ms.
    pub first_frame_ms: Option<f64>,
    /// The client's final picture equals the X screen (within tolerance in
    /// the JPEG run).
    pub identical: bool,
    /// Pixels that differ exactly at the end.
    pub final_diff_pixels: usize,
}

impl Figures {
    fn failed(spec: Spec, error: String) -> Figures {
        Figures {
            spec,
            error: Some(error),
            bytes: 0,
            bytes_total: 0,
            server_cpu_s: 0.0,
            x_cpu_s: 0.0,
            peak_rss_mib: 0.0,
            updates_per_s: 0.0,
            probe_seen: 0,
            probe_flips: 0,
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            first_frame_ms: None,
            identical: false,
            final_diff_pixels: 0,
        }
    }
}

/// utime + stime of `pid`, in ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After "pid (comm)": state is field 3; utime 14, stime 15 (1-based).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// VmHWM of `pid` in MiB.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The `q`-quantile (0–1) of sorted `v`, in ms.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0)
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the contestant for `display`; returns its guard and how the
/// client meets it.
fn start_contestant(
    env: &Env,
    c: Contestant,
    display: &str,
    log_dir: &Path,
) -> Result<(ChildGuard, Link), String> {
    let listener = || env.listener.try_clone().map_err(|e| e.to_string());
    let port = env.listener.local_addr().map_err(|e| e.to_string())?.port();
    match c {
        Contestant::RemotoClear | Contestant::RemotoCrypto => {
            let id = if c == Contestant::RemotoClear {
                CLEAR_ID
            } else {
                CRYPTO_ID
            };
            let mut cmd = Command::new(&env.remoto);
            cmd.args(["connect", id, "--yes", "--display", display]);
            let link = if c == Contestant::RemotoClear {
                Link::AcceptClear(listener()?)
            } else {
                Link::AcceptCrypto(listener()?, env.keypair.clone())
            };
            Ok((ChildGuard::spawn_logged(c.name(), &mut cmd, log_dir), link))
        }
        Contestant::X11vnc => {
            require_tool("x11vnc", "x11vnc");
            let mut cmd = Command::new("x11vnc");
            cmd.args([
                "-display",
                display,
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-rfbport",
                "0",
                "-rfbportv6",
                "-1",
                "-nolookup",
                "-nopw",
                "-nocursor",
                "-q",
            ]);
            Ok((
                ChildGuard::spawn_logged(c.name(), &mut cmd, log_dir),
                Link::AcceptClear(listener()?),
            ))
        }
        Contestant::Tigervnc => {
            let bin = require_tool("X0tigervnc", "tigervnc-scraping-server");
            let port = tests::net::free_port();
            let mut cmd = Command::new(bin);
            cmd.args([
                "-display",
                display,
                "-rfbport",
                &port.to_string(),
                "-SecurityTypes",
                "None",
                "-localhost",
                "-AlwaysShared",
            ]);
            let guard = ChildGuard::spawn_logged(c.name(), &mut cmd, log_dir);
            tests::net::wait_listening(port, Duration::from_secs(20));
            Ok((guard, Link::Connect(port)))
        }
    }
}

/// Runs one measured run.
pub fn run(env: &Env, spec: Spec) -> Figures {
    let label = format!(
        "{}x{}-{}-{}-{}",
        spec.width,
        spec.height,
        spec.workload.name(),
        spec.contestant.name(),
        if spec.jpeg { "jpeg" } else { "lossless" }
    );
    let art = env.artifacts.sub(&label);
    match run_inner(env, spec, &art) {
        Ok(f) => f,
        Err(e) => Figures::failed(spec, e),
    }
}

fn run_inner(env: &Env, spec: Spec, art: &Artifacts) -> Result<Figures, String> {
    let mut xs = XServer::xvfb(art, u32::from(spec.width), u32::from(spec.height));
    let display = xs.display();
    let x_pid = xs.guard().pid();
    let generator = Generator::prepare(&display, spec.workload).map_err(|e| e.to_string())?;
    let (w, h, reference) = workload::grab_screen(&display).map_err(|e| e.to_string())?;
    if (w, h) != (spec.width, spec.height) {
        return Err(format!("the display is {w}x{h}"));
    }
    let flips = Arc::new(Mutex::new(Vec::new()));
    let (px, py) = workload::probe_origin(w, h);
    let probe = spec
        .workload
        .has_probe()
        .then_some((px + PROBE_SIZE / 2, py + PROBE_SIZE / 2));
    let measure = Measure::new(reference, spec.jpeg, probe, flips.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let (mut server, link) = start_contestant(env, spec.contestant, &display, art.dir())?;
    let client = client::spawn(link, measure.clone(), stop_rx);
    let result = measure_run(
        env,
        spec,
        &display,
        x_pid,
        &mut server,
        &measure,
        generator,
        flips,
        started,
    );
    let _ = stop_tx.send(true);
    server.kill();
    let _ = client.join();
    drop(xs);
    result
}

#[allow(clippy::too_many_arguments)]
fn measure_run(
    env: &Env,
    spec: Spec,
    display: &str,
    x_pid: u32,
    server: &mut ChildGuard,
    measure: &Arc<Measure>,
    generator: Generator,
    flips: Arc<Mutex<Vec<workload::Flip>>>,
    started: Instant,
) -> Result<Figures, String> {
    let pid = server.pid();
    let failed = |server: &mut ChildGuard, what: &str| {
        let st = measure.lock();
        format!(
            "{what} (client: {}; server running: {}); server stderr: {}",
            st.error.clone().unwrap_or_else(|| "no error".into()),
            server.is_running(),
            server.stderr_tail()
        )
    };
    // Connect → first complete picture.
    let first = wait_until(Duration::from_secs(30), || {
        let st = measure.lock();
        st.first_frame.is_some() || st.error.is_some()
    });
    let first_frame = measure.lock().first_frame;
    let Some(first_frame) = first_frame.filter(|_| first) else {
        return Err(failed(server, "no complete first picture within 30 s"));
    };
    let first_frame_ms = (first_frame - started).as_secs_f64() * 1000.0;
    // Let the first frame's tail (cursor, late rectangles) pass.
    std::thread::sleep(Duration::from_millis(300));
    let cpu0 = cpu_ticks(pid).ok_or_else(|| failed(server, "the server is gone"))?;
    let x0 = cpu_ticks(x_pid).unwrap_or(0);
    let bytes0 = measure.wire_in.load(std::sync::atomic::Ordering::Relaxed);
    let upd0 = measure.lock().updates;
    let t0 = Instant::now();
    let duration = Duration::from_secs_f64(spec.seconds);
    let worker = {
        let flips = flips.clone();
        std::thread::spawn(move || generator.run(duration, flips))
    };
    let gen_result = worker
        .join()
        .map_err(|_| "the workload thread panicked".to_string())?;
    gen_result.map_err(|e| e.to_string())?;
    // Give the last flip the time a good server needs to show it.
    std::thread::sleep(Duration::from_millis(200));
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = cpu_ticks(pid).ok_or_else(|| failed(server, "the server died during the run"))?;
    let x1 = cpu_ticks(x_pid).unwrap_or(x0);
    let bytes1 = measure.wire_in.load(std::sync::atomic::Ordering::Relaxed);
    let upd1 = measure.lock().updates;
    // The final picture: the client must converge on the screen.
    let (_, _, screen) = workload::grab_screen(display).map_err(|e| e.to_string())?;
    let mut diff = usize::MAX;
    let identical = wait_until(Duration::from_secs(5), || {
        let st = measure.lock();
        diff = client::differing(st.client.framebuffer().pixels(), &screen, false);
        client::matches(st.client.framebuffer().pixels(), &screen, spec.jpeg)
    });
    let peak = peak_rss_mib(pid).unwrap_or(0.0);
    if let Some(e) = measure.lock().error.clone() {
        return Err(format!("client: {e}"));
    }
    let st = measure.lock();
    let mut lat = st.latencies.clone();
    lat.sort();
    let made = flips.lock().unwrap_or_else(|p| p.into_inner()).len();
    Ok(Figures {
        spec,
        error: None,
        bytes: bytes1 - bytes0,
        bytes_total: measure.wire_in.load(std::sync::atomic::Ordering::Relaxed),
        server_cpu_s: (cpu1 - cpu0) as f64 / env.ticks,
        x_cpu_s: x1.saturating_sub(x0) as f64 / env.ticks,
        peak_rss_mib: peak,
        updates_per_s: (upd1 - upd0) as f64 / elapsed,
        probe_seen: lat.len(),
        probe_flips: made,
        p50_ms: percentile(&lat, 0.50),
        p95_ms: percentile(&lat, 0.95),
        p99_ms: percentile(&lat, 0.99),
        first_frame_ms: Some(first_frame_ms),
        identical,
        final_diff_pixels: diff,
    })
}
