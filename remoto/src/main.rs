//! `remoto`: the customer's program. Thin glue: profile → UI or console →
//! [`remoto::app::run_session`].
#![deny(unsafe_code)]
// No console window on a double-click; `--list` and `connect` attach to the
// console they were typed in (platform::windows::console).
#![cfg_attr(windows, windows_subsystem = "windows")]

use clap::{Parser, Subcommand};
use profiles::LoadedProfile;
use remoto::app::{self, AppError, AppEvent, Receipt, SessionRequest};
use remoto::features::UserCommand;
use remoto::platform::{Platform, PlatformError};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use tokio::sync::{oneshot, watch};

/// The technician list built into this program (`REMOTO_PROFILE` at build time).
const EMBEDDED_PROFILE: &str = include_str!(concat!(env!("OUT_DIR"), "/profile.toml"));

const EXIT_HELP: &str = "\
Exit codes:
  0  the session ended (Close, or the technician disconnected)
  1  the session failed while running (connection lost, screen error)
  2  wrong command-line usage
  3  the technician list is damaged, invalid or expired
  4  the technician could not be reached
  5  the secure connection failed, or the technician refused
  6  the screen cannot be accessed";

/// Remoto: send your desktop to your support technician, with one double-click.
///
/// Run without arguments to open the window with the technician list. Remoto
/// only connects out: it never listens on the network, installs nothing and
/// writes no file (except a session log you choose to save).
#[derive(Parser, Debug)]
#[command(version, about, long_about, after_help = EXIT_HELP)]
struct Cli {
    /// Print the technicians this Remoto carries and exit.
    #[arg(long)]
    list: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Connect to a technician without a window (for scripts and tests).
    ///
    /// Prints progress, the security code and what the technician will see
    /// about this computer; while the session runs it reads commands on
    /// standard input: `allow` (allow control), `stop` (stop control),
    /// `close` (end the session), `chat TEXT`, `send-file PATH`,
    /// `accept-file ID PATH`, `accept-file-overwrite ID PATH`,
    /// `refuse-file ID`, `cancel-file ID`, `pause`, `resume`, `share-all`,
    /// `share-window XID`, `share-monitor N`.
    Connect {
        /// The technician's ID, as in `remoto --list`.
        id: String,
        /// Share the screen without asking for confirmation on the terminal.
        #[arg(long)]
        yes: bool,
        /// Allow the technician to control mouse and keyboard from the start
        /// (only if the technician list permits control).
        #[arg(long)]
        allow_control: bool,
        /// The X display to share (default: $DISPLAY).
        #[arg(long)]
        display: Option<String>,
        /// The one-time session code the technician read out (8 digits).
        #[arg(long)]
        code: Option<String>,
        /// At the end, save the session log (hash-chained, checked by
        /// `viewer log verify`) to this file. It is the only file Remoto
        /// writes, and only when asked; an existing file is not replaced.
        #[arg(long, value_name = "PATH")]
        save_log: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    #[cfg(windows)]
    remoto::platform::windows::console::attach_parent_console();
    let cli = Cli::parse();
    let loaded = match load_profile() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("remoto: {e}");
            if let profiles::ProfileError::Trailer { .. } = e {
                eprintln!(
                    "This copy of Remoto is damaged: nothing was sent. Download it again from your support team."
                );
            }
            if let profiles::ProfileError::Expired { .. } = e
                && let Some(phones) = expired_profile_phones()
            {
                eprintln!("Call your support team: {}", phones.join(" or "));
            }
            return ExitCode::from(3);
        }
    };
    if cli.list {
        print_list(&loaded);
        return ExitCode::SUCCESS;
    }
    match cli.command {
        Some(Command::Connect {
            id,
            yes,
            allow_control,
            display,
            code,
            save_log,
        }) => connect_headless(
            &loaded,
            &id,
            HeadlessOptions {
                yes,
                allow_control,
                display,
                code,
                save_log,
            },
        ),
        None => run_window(loaded),
    }
}

fn load_profile() -> Result<LoadedProfile, profiles::ProfileError> {
    let exe = std::env::current_exe().map_err(|source| profiles::ProfileError::Io {
        path: "/proc/self/exe".into(),
        source,
    })?;
    profiles::load_for_exe(&exe, EMBEDDED_PROFILE)
}

/// The phone numbers of an expired technician list (read again without
/// the expiry check), so the refusal can say whom to call.
fn expired_profile_phones() -> Option<Vec<String>> {
    let exe = std::env::current_exe().ok()?;
    let packed = profiles::read_trailer_file(&exe).ok()?;
    let text = packed.as_deref().unwrap_or(EMBEDDED_PROFILE);
    let phones = profiles::validate(text.as_bytes(), "profile", None)
        .ok()?
        .profile
        .brand
        .phones;
    (!phones.is_empty()).then_some(phones)
}

fn print_list(loaded: &LoadedProfile) {
    let p = &loaded.profile;
    let source = match loaded.source {
        profiles::ProfileSource::Embedded => "built in",
        profiles::ProfileSource::Packed => "packed",
    };
    println!(
        "{} — {} ({source} technician list)",
        p.brand.name, p.brand.title
    );
    for t in &p.technicians {
        let mode = if t.is_crypto() {
            "crypto"
        } else {
            "clear (NOT encrypted)"
        };
        let endpoints: Vec<String> = t.endpoints.iter().map(|e| e.to_string()).collect();
        let label = t
            .label
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        println!("{}{label}\t{mode}\t{}", t.id, endpoints.join(", "));
    }
}

fn open_platform(display: Option<&str>) -> Result<Platform, PlatformError> {
    remoto::platform::open(display)
}

fn exit_code_for(e: &AppError) -> u8 {
    match e {
        AppError::Unreachable { .. } | AppError::Proxy(_) => 4,
        AppError::Secure { .. }
        | AppError::Refused { .. }
        | AppError::NotAccepted(..)
        | AppError::BadCode => 5,
        AppError::Platform(_) => 6,
        AppError::Session(_) | AppError::Channel(_) => 1,
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn print_receipt(r: &Receipt) {
    let secs = r.duration.as_secs();
    println!(
        "session with {} ended ({:?}) after {:02}:{:02}; sent {} bytes in {} updates; input applied {}, dropped {}",
        r.technician,
        r.end,
        secs / 60,
        secs % 60,
        r.stats.bytes_sent,
        r.stats.updates,
        r.stats.input_applied,
        r.stats.input_dropped
    );
    let sm = &r.summary;
    if sm.control_granted {
        let c = sm.control_time.as_secs();
        println!("control was granted for {:02}:{:02}", c / 60, c % 60);
    } else {
        println!("control was never granted");
    }
    println!("chat lines: {}", sm.chats);
    for f in &sm.files {
        println!(
            "file {} {} ({} bytes): {}",
            if f.to_customer { "received" } else { "sent" },
            f.name,
            f.size,
            f.outcome
        );
    }
    if sm
        .files
        .iter()
        .any(|f| f.to_customer && f.outcome.starts_with("done"))
    {
        println!(
            "Remoto is closed: no connection is open, nothing was installed; only the files you accepted were written."
        );
    } else {
        println!("Remoto is closed: no connection is open, nothing was installed or written.");
    }
}

/// The options of `remoto connect`.
struct HeadlessOptions {
    yes: bool,
    allow_control: bool,
    display: Option<String>,
    code: Option<String>,
    save_log: Option<std::path::PathBuf>,
}

fn print_event(e: AppEvent) {
    match e {
        AppEvent::Trying(eps) => println!("connecting to {}", eps.join(", ")),
        AppEvent::Reached(ep) => println!("connected to {ep}"),
        AppEvent::Secured { sas } => {
            println!("SAS: {sas}  (check that the technician sees the same code)")
        }
        AppEvent::WaitingForTechnician => println!("waiting for the technician to accept…"),
        AppEvent::Sharing { encrypted, control } => println!(
            "sharing the screen ({}), control {}",
            if encrypted {
                "encrypted"
            } else {
                "NOT ENCRYPTED"
            },
            if control { "allowed" } else { "not allowed" }
        ),
        AppEvent::ControlChanged(on) => {
            println!("control {}", if on { "allowed" } else { "stopped" })
        }
        AppEvent::Chat {
            from_technician,
            text,
            time,
        } => println!(
            "chat {time} {}: {text}",
            if from_technician { "technician" } else { "you" }
        ),
        AppEvent::FileOffered { id, name, size } => println!(
            "file offer {id}: {name} ({size} bytes); type `accept-file {id} PATH` or `refuse-file {id}`"
        ),
        AppEvent::FileProgress {
            id,
            incoming,
            done,
            size,
        } => println!(
            "file {id} {}: {done}/{size} bytes ({}%)",
            if incoming { "receiving" } else { "sending" },
            (done * 100).checked_div(size).unwrap_or(100)
        ),
        AppEvent::FileFinished {
            id,
            incoming,
            name,
            outcome,
        } => println!(
            "file {id} {} {name}: {outcome}",
            if incoming {
                "from technician"
            } else {
                "to technician"
            }
        ),
        AppEvent::SharingChanged(state) => println!("sharing: {state}"),
        AppEvent::Notice(text) => println!("notice: {text}"),
    }
    let _ = std::io::stdout().flush();
}

fn connect_headless(loaded: &LoadedProfile, id: &str, opts: HeadlessOptions) -> ExitCode {
    let HeadlessOptions {
        yes,
        allow_control,
        display,
        code,
        save_log,
    } = opts;
    let profile = &loaded.profile;
    let Some(tech) = profile.technician(id) else {
        let ids: Vec<&str> = profile.technicians.iter().map(|t| t.id.as_str()).collect();
        eprintln!(
            "remoto: no technician {id:?} in this Remoto (there are: {})",
            ids.join(", ")
        );
        return ExitCode::from(2);
    };
    if tech.session_code == profiles::model::SessionCodePolicy::Required && code.is_none() {
        eprintln!(
            "remoto: technician {} requires the one-time session code: pass --code NNNNNNNN",
            tech.id
        );
        return ExitCode::from(2);
    }
    if allow_control && !app::control_allowed_by_policy(profile) {
        eprintln!(
            "remoto: this Remoto is view-only: the technician can never control this computer"
        );
        return ExitCode::from(2);
    }
    if !tech.is_crypto() {
        println!(
            "WARNING: technician {} is a clear (NOT encrypted) entry: anyone on the network path can see your screen",
            tech.id
        );
    }
    let (screen, input) = match open_platform(display.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("remoto: cannot access the screen: {e}");
            return ExitCode::from(6);
        }
    };
    let mut geometry = remoto::privacy::open_geometry(display.as_deref(), screen.size());
    let hello = remoto::sysinfo::customer_hello(profile, screen.size(), &geometry.monitors());
    if tech.is_crypto() {
        let lines = remoto::sysinfo::describe(&hello);
        if lines.is_empty() {
            println!("The technician will see: nothing about this computer.");
        } else {
            println!("The technician will see: {}", lines.join("; "));
        }
    }
    if !yes {
        print!("Share your screen with technician {}? [y/N] ", tech.id);
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        if !matches!(line.trim(), "y" | "Y" | "yes" | "s" | "si" | "sì") {
            println!("Nothing was shared.");
            return ExitCode::SUCCESS;
        }
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("remoto: {e}");
            return ExitCode::from(1);
        }
    };
    let control_start = app::initial_control(profile) || allow_control;
    let (control_tx, control_rx) = watch::channel(control_start);
    let (close_tx, close_rx) = oneshot::channel();
    // Console commands: allow / stop / close, chat, files, privacy (and
    // end of input = nothing).
    let policy_allows = app::control_allowed_by_policy(profile);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut close_tx = Some(close_tx);
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match UserCommand::parse_console(&line) {
                Ok(Some(cmd)) => {
                    let _ = cmd_tx.send(cmd);
                    continue;
                }
                Err(e) => {
                    println!("{e}");
                    continue;
                }
                Ok(None) => {}
            }
            match line.trim() {
                "allow" if policy_allows => {
                    let _ = control_tx.send(true);
                }
                "allow" => println!("control is not permitted by this Remoto (view-only)"),
                "stop" => {
                    let _ = control_tx.send(false);
                }
                "close" | "quit" => {
                    if let Some(tx) = close_tx.take() {
                        let _ = tx.send(());
                    }
                }
                "" => {}
                other => println!(
                    "unknown command {other:?}: use allow, stop, close, chat, send-file, accept-file, refuse-file, cancel-file, pause, resume, share-window, share-monitor or share-all"
                ),
            }
        }
        // Keep the control sender alive while the session runs.
        std::thread::park();
    });
    let events = print_event;
    let req = SessionRequest {
        profile,
        technician: tech,
        session_code: code,
        screen,
        input,
        control: control_rx,
        close: close_rx,
        hello,
        commands: cmd_rx,
        privacy: remoto::privacy::Privacy::new(),
        geometry,
    };
    let result = rt.block_on(app::run_session(req, &events));
    // Do not wait for the stdin thread: the process ends here.
    rt.shutdown_background();
    match result {
        Ok(receipt) => {
            print_receipt(&receipt);
            if let Some(path) = save_log {
                match remoto::customer_log::save_log(&path, &receipt.summary.log, false) {
                    Ok(()) => println!("session log saved to {}", path.display()),
                    Err(e) => {
                        eprintln!(
                            "remoto: cannot save the session log to {}: {e}",
                            path.display()
                        );
                        return ExitCode::from(1);
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("remoto: {e}");
            if let AppError::Unreachable { .. } = e
                && !profile.brand.phones.is_empty()
            {
                eprintln!("Call {}", profile.brand.phones.join(" or "));
            }
            ExitCode::from(exit_code_for(&e))
        }
    }
}

fn run_window(loaded: LoadedProfile) -> ExitCode {
    if cfg!(unix) && !std::io::stdout().is_terminal() && std::env::var_os("DISPLAY").is_none() {
        eprintln!(
            "remoto: no display to show the window on (DISPLAY is not set); use `remoto connect ID`"
        );
        return ExitCode::from(2);
    }
    match remoto::gui::run(loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remoto: {e}");
            ExitCode::from(1)
        }
    }
}
