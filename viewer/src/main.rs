//! `viewer`: the technician's listening viewer and the support team's tools.
//! Thin glue: argument parsing, runtime and window setup; the logic lives in
//! the library (`viewer::listener`, `viewer::session`, …).
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use viewer::headless::{Command, Event, Reporter};
use viewer::listener::{self, Input, ListenConfig};

/// The technician's listening viewer for Remoto sessions.
#[derive(Debug, Parser)]
#[command(name = "viewer", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Listen for customers (reverse VNC): clear RFB and Remoto crypto on one port.
    Listen(ListenArgs),
    /// Write the technician's key pair and print the public key line for the profile.
    Keygen {
        /// Key file (default: the config directory's `remoto/technician.key`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing key file (the old key stops working for every profile using it).
        #[arg(long)]
        force: bool,
    },
    /// Technician-list profiles.
    Profile {
        #[command(subcommand)]
        cmd: ProfileCmd,
    },
    /// Session logs.
    Log {
        #[command(subcommand)]
        cmd: LogCmd,
    },
    /// Play a recording (FBS) in a window: Space pauses, Left/Right seek
    /// 10 s, +/- change the speed.
    Play {
        /// The recording.
        file: PathBuf,
        /// Playback speed (1 = as recorded).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// No window: replay, print JSON progress, write the last picture.
        #[arg(long)]
        headless: bool,
        /// Headless: write the final picture here as `play.png`.
        #[arg(long, value_name = "DIR")]
        snapshot_dir: Option<PathBuf>,
    },
    /// Export a recording (FBS) to PNG frames.
    Export {
        /// The recording.
        file: PathBuf,
        /// Directory for the frames.
        #[arg(long)]
        png: PathBuf,
        /// Seconds between frames (the last frame is always written).
        #[arg(long, default_value_t = 1.0)]
        every: f64,
    },
}

/// The session window's shortcuts (window mode), for `viewer listen --help`.
const WINDOW_KEYS: &str = "Session window shortcuts (window mode):
  F11, Ctrl+Alt+Shift+F       full screen on/off
  Ctrl+Alt+Shift+S            scale: fit <-> 1:1
  Ctrl+Alt+Shift+B            scaler: bilinear <-> nearest
  Ctrl+Alt+Shift+End/Delete   send Ctrl-Alt-Del to the customer
  Ctrl+Alt+Shift+C            ask the customer for control
  Ctrl+Alt+Shift+L            picture quality: auto, lossless, high, medium, low
  Ctrl+Alt+Shift+T            side pane: chat, files, system information, notes
                              (while a pane field has the focus keys go to it:
                              Enter sends, Escape leaves, Tab next field;
                              drop a file on the window to send it)
  Ctrl+Alt+Shift+Q            disconnect";

#[derive(Debug, clap::Args)]
#[command(after_help = WINDOW_KEYS)]
struct ListenArgs {
    /// TCP port.
    #[arg(long, default_value_t = 5500)]
    port: u16,
    /// Address to listen on (repeatable; default: 0.0.0.0 and [::]).
    #[arg(long = "bind", value_name = "ADDR")]
    binds: Vec<IpAddr>,
    /// The technician's key file (default: the config directory's `remoto/technician.key`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Refuse clear (unencrypted) connections.
    #[arg(long)]
    require_crypto: bool,
    /// No windows: JSON-line events on stdout, commands on stdin.
    #[arg(long)]
    headless: bool,
    /// Accept every session without asking.
    #[arg(long)]
    accept_all: bool,
    /// Write `session-N.png` snapshots here.
    #[arg(long, value_name = "DIR")]
    snapshot_dir: Option<PathBuf>,
    /// Record every session (FBS) here.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Write session logs here (default: the data directory's `remoto/logs`).
    #[arg(long, value_name = "DIR")]
    log: Option<PathBuf>,
    /// Issue a one-time session code at start (more with the `code` command).
    #[arg(long)]
    session_code: bool,
    /// The technician's ID sent to customers and logged.
    #[arg(long, default_value = "technician")]
    id: String,
    /// Picture quality sessions start with: auto, lossless, high, medium,
    /// low (changed per session with Ctrl+Alt+Shift+L in the window or
    /// `quality N LEVEL` on stdin).
    #[arg(long, default_value = "auto")]
    quality: viewer::quality::Quality,
}

#[derive(Debug, Subcommand)]
enum ProfileCmd {
    /// Validate a profile.
    Check {
        /// The profile (TOML).
        file: PathBuf,
    },
    /// Append a profile to a Remoto executable.
    Pack {
        /// The Remoto executable.
        #[arg(long)]
        binary: PathBuf,
        /// The profile (TOML).
        #[arg(long)]
        profile: PathBuf,
        /// The new executable.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LogCmd {
    /// Verify a session log's hash chain.
    Verify {
        /// The log file.
        file: PathBuf,
    },
    /// Print a session log as a ticket report (verified).
    Show {
        /// The log file.
        file: PathBuf,
    },
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "remoto")
}

fn default_key_path() -> Result<PathBuf, String> {
    project_dirs()
        .map(|d| d.config_dir().join("technician.key"))
        .ok_or_else(|| "no home directory: pass --key FILE".into())
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Listen(args) => listen(args),
        Cmd::Keygen { out, force } => keygen(out, force),
        Cmd::Profile {
            cmd: ProfileCmd::Check { file },
        } => return viewer::team::profile_check(&file),
        Cmd::Profile {
            cmd:
                ProfileCmd::Pack {
                    binary,
                    profile,
                    out,
                },
        } => profile_pack(&binary, &profile, &out),
        Cmd::Log { cmd } => log_cmd(cmd),
        Cmd::Export { file, png, every } => export(&file, &png, every),
        Cmd::Play {
            file,
            speed,
            headless,
            snapshot_dir,
        } => play(file, speed, headless, snapshot_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("viewer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(out: Option<PathBuf>, force: bool) -> Result<(), String> {
    let path = match out {
        Some(p) => p,
        None => default_key_path()?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let pair = viewer::team::keygen(&path, force).map_err(|e| e.to_string())?;
    eprintln!("wrote {} (keep it private)", path.display());
    println!("{}", viewer::team::public_key_line(&pair.public));
    Ok(())
}

fn profile_pack(binary: &Path, profile: &Path, out: &Path) -> Result<(), String> {
    let summary = viewer::team::profile_pack(binary, profile, out).map_err(|e| e.to_string())?;
    println!("{summary}");
    Ok(())
}

fn log_cmd(cmd: LogCmd) -> Result<(), String> {
    match cmd {
        LogCmd::Verify { file } => {
            let report = viewer::log::verify(&file).map_err(|e| e.to_string())?;
            println!("{}: {}", file.display(), report.summary());
            Ok(())
        }
        LogCmd::Show { file } => {
            let text = viewer::log::show(&file).map_err(|e| e.to_string())?;
            print!("{text}");
            Ok(())
        }
    }
}

fn export(file: &Path, dir: &Path, every: f64) -> Result<(), String> {
    if !every.is_finite() || every <= 0.0 || every > 86_400.0 {
        return Err("--every must be between 0 and 86400 seconds".into());
    }
    let client = viewer::recording::replay_client(rfb::ClientConfig::default());
    let frames = viewer::recording::export_png(file, dir, Duration::from_secs_f64(every), client)
        .map_err(|e| e.to_string())?;
    for f in &frames {
        println!("{} ({} ms)", f.path.display(), f.at_ms);
    }
    Ok(())
}

fn play(
    file: PathBuf,
    speed: f64,
    headless: bool,
    snapshot_dir: Option<PathBuf>,
) -> Result<(), String> {
    let opts = viewer::play::PlayOptions {
        file,
        speed: viewer::play::check_speed(speed)?,
        snapshot_dir,
    };
    if headless {
        return viewer::play::play_headless(&opts).map_err(|e| e.to_string());
    }
    if opts.snapshot_dir.is_some() {
        return Err("--snapshot-dir goes with --headless".into());
    }
    let event_loop = viewer::window::event_loop()
        .map_err(|e| format!("{e} (use --headless without a display)"))?;
    let handle = viewer::window::WindowHandle::new(&event_loop);
    let (tx, rx) = std::sync::mpsc::channel();
    let stopper = handle.clone();
    let player = std::thread::spawn(move || {
        let r = viewer::play::play_window(&opts, &handle, &rx);
        let _ = stopper.shutdown();
        r
    });
    let mut manager = viewer::window::WindowManager::with_sender(tx).exit_when_last_closed(true);
    let win = viewer::window::run(event_loop, &mut manager);
    drop(manager);
    match player.join() {
        Ok(r) => r.map_err(|e| e.to_string())?,
        Err(_) => return Err("the player thread failed".into()),
    }
    win.map_err(|e| e.to_string())
}

fn listen(args: ListenArgs) -> Result<(), String> {
    let key_path = match args.key {
        Some(p) => p,
        None => default_key_path()?,
    };
    if !key_path.exists() {
        return Err(format!(
            "no technician key at {}: run `viewer keygen` (or pass --key FILE)",
            key_path.display()
        ));
    }
    let keypair = crypto::KeyPair::load(&key_path).map_err(|e| e.to_string())?;
    let log_dir = match args.log {
        Some(d) => d,
        None => project_dirs()
            .map(|d| d.data_dir().join("logs"))
            .ok_or("no home directory: pass --log DIR")?,
    };
    let (binds, all_required) = if args.binds.is_empty() {
        (
            vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), args.port),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), args.port),
            ],
            false,
        )
    } else {
        (
            args.binds
                .iter()
                .map(|ip| SocketAddr::new(*ip, args.port))
                .collect(),
            true,
        )
    };
    let mut cfg = ListenConfig::new(binds, keypair, log_dir);
    cfg.all_binds_required = all_required;
    cfg.technician = args.id;
    cfg.require_crypto = args.require_crypto;
    cfg.accept_all = args.accept_all;
    cfg.snapshot_dir = args.snapshot_dir;
    cfg.record_dir = args.record;
    cfg.session_code = args.session_code;
    cfg.quality = args.quality;

    let reporter = Arc::new(Reporter::new(args.headless));
    let (tx, rx) = mpsc::unbounded_channel();
    spawn_stdin(tx.clone(), reporter.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;

    if args.headless {
        return runtime
            .block_on(listener::run(cfg, reporter, None, rx))
            .map_err(|e| e.to_string());
    }

    // Window mode: the event loop owns the main thread; the listener runs
    // on the runtime's threads.
    let event_loop = viewer::window::event_loop()
        .map_err(|e| format!("{e} (use --headless without a display)"))?;
    let handle = viewer::window::WindowHandle::new(&event_loop);
    let stopper = handle.clone();
    let net = std::thread::spawn(move || {
        let r = runtime.block_on(listener::run(cfg, reporter, Some(handle), rx));
        let _ = stopper.shutdown();
        r
    });
    let mut manager = viewer::window::WindowManager::new(move |input| {
        let _ = tx.send(Input::Window(input));
    });
    let win = viewer::window::run(event_loop, &mut manager);
    if net.is_finished() {
        return match net.join() {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err("the listener thread failed".into()),
        };
    }
    // The windows ended first (error or Shutdown): stop the process.
    win.map_err(|e| e.to_string())
}

/// Reads technician commands from stdin on a plain thread.
fn spawn_stdin(tx: mpsc::UnboundedSender<Input>, reporter: Arc<Reporter>) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            match Command::parse(&line) {
                Ok(Some(cmd)) => {
                    if tx.send(Input::Command(cmd)).is_err() {
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => reporter.emit(&Event::Error {
                    message: e.to_string(),
                }),
            }
        }
    });
}
