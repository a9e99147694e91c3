//! One measured run: a fresh Xvfb, the workload's scene, one contestant
//! sending to the measuring client, the figures.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tests::{Artifacts, ChildGuard, XServer, require_tool};
use tokio::sync::watch;

use crate::client::{self, Link, Measure, TransferPlan};
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
        let ticks = clock_ticks();
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
    /// The transfer workload's figures.
    pub transfer: Option<TransferFigures>,
}

/// Size of the transfer workload's file.
pub const TRANSFER_BYTES: u64 = 50 * 1024 * 1024;
/// How long the transfer workload's second phase (the transfers) may take.
const TRANSFER_WINDOW: Duration = Duration::from_secs(20);
/// The file is sent again until this many probe flips fell inside transfers
/// (one 50 MB transfer takes about a second on loopback: ~10 flips).
const TRANSFER_MIN_FLIPS: usize = 40;
/// At most this many transfers.
const MAX_TRANSFERS: u32 = 20;

/// Probe latency without and during a file transfer (transfer workload).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferFigures {
    /// Probe flips seen before the offer (typing only).
    pub idle_seen: usize,
    /// Their p50, ms.
    pub idle_p50_ms: Option<f64>,
    /// Their p95, ms.
    pub idle_p95_ms: Option<f64>,
    /// Probe flips made between the customer's accept and the saved file.
    pub during_seen: usize,
    /// Their p50, ms.
    pub during_p50_ms: Option<f64>,
    /// Their p95, ms.
    pub during_p95_ms: Option<f64>,
    /// p95 during ÷ p95 before.
    pub p95_ratio: Option<f64>,
    /// Files sent one after the other.
    pub transfers: usize,
    /// Accept → the whole file saved on the customer's side, seconds
    /// (summed over the transfers).
    pub seconds: f64,
    /// File bytes sent (all transfers).
    pub bytes: u64,
    /// The customer saved every file whole.
    pub saved: bool,
}

/// The transfer workload's temporary files: the file the technician sends
/// and the directory the customer saves into (removed on drop).
struct TransferScratch {
    dir: PathBuf,
    recv: PathBuf,
    file: crypto::transfer::PreparedFile,
}

impl TransferScratch {
    fn new() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!(
            "remoto-bench-transfer-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let recv = dir.join("received");
        std::fs::create_dir_all(&recv).map_err(|e| format!("{}: {e}", recv.display()))?;
        let path = dir.join("bench-transfer.bin");
        // Incompressible bytes (xorshift), as a photo or an archive would be.
        let mut data = Vec::with_capacity(TRANSFER_BYTES as usize);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        while data.len() < TRANSFER_BYTES as usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        let file = std::fs::write(&path, &data)
            .map_err(|e| format!("{}: {e}", path.display()))
            .and_then(|_| crypto::transfer::prepare(&path).map_err(|e| e.to_string()));
        match file {
            Ok(file) => Ok(TransferScratch { dir, recv, file }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Whether the customer saved the whole file of transfer `id`.
    fn saved(&self, id: u32) -> bool {
        std::fs::metadata(
            self.recv
                .join(id.to_string())
                .join(self.file.name.to_string()),
        )
        .is_ok_and(|m| m.len() == self.file.size)
    }
}

impl Drop for TransferScratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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
            transfer: None,
        }
    }
}

/// Clock ticks a second, the unit of /proc CPU times (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, in ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After "pid (comm)": state is field 3; utime 14, stime 15 (1-based).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// VmHWM of `pid` in MiB.
pub(crate) fn peak_rss_mib(pid: u32) -> Option<f64> {
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

/// Polls `f` every 20 ms until it holds or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
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
    plan: Option<TransferPlan>,
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
            let with_plan = plan.is_some();
            let link = if c == Contestant::RemotoClear {
                Link::AcceptClear(listener()?)
            } else {
                Link::AcceptCrypto(listener()?, env.keypair.clone(), plan)
            };
            if !with_plan {
                return Ok((ChildGuard::spawn_logged(c.name(), &mut cmd, log_dir), link));
            }
            // The transfer workload answers the file offer on the console.
            let log = |what: &str| {
                let p = log_dir.join(format!("{}.{what}.log", c.name()));
                std::fs::File::create(&p).map_err(|e| format!("{}: {e}", p.display()))
            };
            cmd.stdin(Stdio::piped())
                .stdout(log("stdout")?)
                .stderr(log("stderr")?);
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start remoto: {e}"))?;
            Ok((ChildGuard::new(c.name(), child), link))
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
    let scratch = if spec.workload == Workload::Transfer {
        if spec.contestant != Contestant::RemotoCrypto {
            return Err("the transfer workload runs with remoto-crypto only".into());
        }
        Some(TransferScratch::new()?)
    } else {
        None
    };
    let start = Arc::new(tokio::sync::Notify::new());
    let plan = scratch.as_ref().map(|s| TransferPlan {
        file: s.file.clone(),
        start: start.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let (mut server, link) = start_contestant(env, spec.contestant, &display, art.dir(), plan)?;
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
        scratch.as_ref().map(|s| (s, start, art.dir())),
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
    transfer: Option<(&TransferScratch, Arc<tokio::sync::Notify>, &Path)>,
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
    let phase = Duration::from_secs_f64(spec.seconds);
    let duration = if transfer.is_some() {
        phase + TRANSFER_WINDOW
    } else {
        phase
    };
    let worker = {
        let flips = flips.clone();
        std::thread::spawn(move || generator.run(duration, flips))
    };
    // Transfer workload: after the first phase the technician offers the
    // file, the customer accepts it on its console (into its own directory
    // per transfer); again, until enough probe flips fell inside transfers.
    // Each transfer: (id, saved at).
    let mut transfers_done: Vec<(u32, Instant)> = Vec::new();
    let mut transfer_error = None;
    if let Some((scratch, start, log_dir)) = &transfer {
        std::thread::sleep(phase);
        let end = Instant::now() + TRANSFER_WINDOW - Duration::from_secs(2);
        let log = log_dir.join(format!("{}.stdout.log", spec.contestant.name()));
        let mut during_flips = 0;
        for id in 1..=MAX_TRANSFERS {
            let dir = scratch.recv.join(id.to_string());
            if let Err(e) = std::fs::create_dir_all(&dir) {
                transfer_error = Some(format!("{}: {e}", dir.display()));
                break;
            }
            start.notify_one();
            let offer = format!("file offer {id}:");
            let offered = wait_until(Duration::from_secs(10), || {
                std::fs::read_to_string(&log).is_ok_and(|s| s.contains(&offer))
            });
            let answer = format!("accept-file {id} {}\n", dir.display());
            let written = offered
                && server.child_mut().stdin.as_mut().is_some_and(|i| {
                    use std::io::Write;
                    i.write_all(answer.as_bytes())
                        .and_then(|_| i.flush())
                        .is_ok()
                });
            if !written {
                transfer_error = Some(format!(
                    "the customer did not show offer {id} ({})",
                    log.display()
                ));
                break;
            }
            let t0 = Instant::now();
            if !wait_until(TRANSFER_WINDOW, || scratch.saved(id)) {
                transfer_error = Some(format!(
                    "file {id} was not saved within {TRANSFER_WINDOW:?} (client: {:?})",
                    measure.lock().transfer.error
                ));
                break;
            }
            let done = Instant::now();
            transfers_done.push((id, done));
            during_flips += flips
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|f| f.at >= t0 && f.at <= done)
                .count();
            if during_flips >= TRANSFER_MIN_FLIPS || Instant::now() >= end {
                break;
            }
        }
    }
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
    if let Some(e) = transfer_error {
        return Err(e);
    }
    let transfer = match &transfer {
        Some((scratch, _, _)) if !transfers_done.is_empty() => {
            let t = &st.transfer;
            let Some(offered) = t.offered else {
                return Err("the transfer has no offer time".into());
            };
            // Windows from the customer's accept to the file saved.
            let windows: Vec<(Instant, Instant)> = transfers_done
                .iter()
                .filter_map(|&(id, done)| {
                    t.accepted
                        .iter()
                        .find(|(a, _)| *a == id)
                        .map(|&(_, at)| (at, done))
                })
                .collect();
            let pick = |keep: &dyn Fn(Instant) -> bool| {
                let mut v: Vec<Duration> = st
                    .latencies
                    .iter()
                    .zip(&st.latency_at)
                    .filter(|(_, at)| keep(**at))
                    .map(|(l, _)| *l)
                    .collect();
                v.sort();
                v
            };
            let idle = pick(&|at| at < offered);
            let during = pick(&|at| windows.iter().any(|&(a, d)| at >= a && at <= d));
            let (i95, d95) = (percentile(&idle, 0.95), percentile(&during, 0.95));
            let seconds: f64 = windows.iter().map(|(a, d)| (*d - *a).as_secs_f64()).sum();
            Some(TransferFigures {
                idle_seen: idle.len(),
                idle_p50_ms: percentile(&idle, 0.5),
                idle_p95_ms: i95,
                during_seen: during.len(),
                during_p50_ms: percentile(&during, 0.5),
                during_p95_ms: d95,
                p95_ratio: i95.zip(d95).map(|(i, d)| d / i.max(1e-3)),
                transfers: windows.len(),
                seconds,
                bytes: scratch.file.size * windows.len() as u64,
                saved: transfers_done.iter().all(|&(id, _)| scratch.saved(id)),
            })
        }
        _ => None,
    };
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
        transfer,
    })
}
