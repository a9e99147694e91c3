//! `remoto`: the customer's program. Thin glue: profile → UI or console →
//! [`remoto::app::run_session`].
#![deny(unsafe_code)]

use clap::{Parser, Subcommand};
use profiles::LoadedProfile;
use remoto::app::{self, AppError, AppEvent, Receipt, SessionRequest};
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
    /// Prints progress and the security code; while the session runs it
    /// reads commands on standard input: `allow` (allow control), `stop`
    /// (stop control), `close` (end the session).
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
    },
}

fn main() -> ExitCode {
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
        }) => connect_headless(&loaded, &id, yes, allow_control, display, code),
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
    let screen = remoto::platform::x11::X11Screen::open(display)?;
    let input = remoto::platform::x11::X11Input::open(display)?;
    Ok((Box::new(screen), Box::new(input)))
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
    println!("Remoto is closed: no connection is open, nothing was installed or written.");
}

fn connect_headless(
    loaded: &LoadedProfile,
    id: &str,
    yes: bool,
    allow_control: bool,
    display: Option<String>,
    code: Option<String>,
) -> ExitCode {
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
    let (screen, input) = match open_platform(display.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("remoto: cannot access the screen: {e}");
            return ExitCode::from(6);
        }
    };
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
    // Console commands: allow / stop / close (and end of input = nothing).
    let policy_allows = app::control_allowed_by_policy(profile);
    std::thread::spawn(move || {
        let mut close_tx = Some(close_tx);
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
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
                other => println!("unknown command {other:?}: use allow, stop or close"),
            }
        }
        // Keep the control sender alive while the session runs.
        std::thread::park();
    });
    let events = |e: AppEvent| {
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
        }
        let _ = std::io::stdout().flush();
    };
    let req = SessionRequest {
        profile,
        technician: tech,
        session_code: code,
        screen,
        input,
        control: control_rx,
        close: close_rx,
    };
    let result = rt.block_on(app::run_session(req, &events));
    // Do not wait for the stdin thread: the process ends here.
    rt.shutdown_background();
    match result {
        Ok(receipt) => {
            print_receipt(&receipt);
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
    if !std::io::stdout().is_terminal() && std::env::var_os("DISPLAY").is_none() {
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
