//! `cargo run -p bench --release -- [--quick] [--workload W] [--size WxH] …`

use std::path::PathBuf;
use std::process::ExitCode;

use bench::report::Report;
use bench::run::{self, Contestant, Env, Spec};
use bench::viewer_load;
use bench::workload::Workload;
use clap::Parser;

/// Runs Remoto (clear and crypto), x11vnc and TigerVNC on the same Xvfb
/// workloads through the same RFB client and writes JSON + Markdown tables.
#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Cli {
    /// Short runs (3 s a workload, 1280×800, lossless only): ≤ 3 minutes.
    #[arg(long)]
    quick: bool,
    /// Workloads to run (probe, typing, scrolling, window-drag, photos,
    /// video, idle); repeat or separate with commas. Default: all.
    #[arg(long, value_delimiter = ',')]
    workload: Vec<String>,
    /// Screen sizes (WxH); default 1280x800 and 1920x1080 (quick: 1280x800).
    #[arg(long, value_delimiter = ',')]
    size: Vec<String>,
    /// Contestants (remoto-clear, remoto-crypto, x11vnc, tigervnc). Default: all.
    #[arg(long, value_delimiter = ',')]
    contestant: Vec<String>,
    /// Seconds each script runs (default: quick 3, full 10; probe 25, idle 15).
    #[arg(long)]
    seconds: Option<f64>,
    /// Also run the JPEG pass (QualityLevel 8) on photos and video
    /// (default in the full run).
    #[arg(long)]
    jpeg: bool,
    /// Skip the JPEG pass.
    #[arg(long, conflicts_with = "jpeg")]
    no_jpeg: bool,
    /// Where the JSON and Markdown go (default: bench/results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Use this Remoto binary instead of building one.
    #[arg(long)]
    remoto: Option<PathBuf>,
    /// Instead of the server comparison: the viewer's CPU and memory with
    /// this many concurrent customer sessions (e.g. `1,5,20`), written to
    /// `viewer-load.{json,md}`.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..=64))]
    viewer_sessions: Vec<u16>,
}

fn parse_size(s: &str) -> Option<(u16, u16)> {
    let (w, h) = s.split_once('x')?;
    let (w, h) = (w.parse().ok()?, h.parse().ok()?);
    (800..=4096).contains(&w).then_some(())?;
    (600..=4096).contains(&h).then_some((w, h))
}

/// `--viewer-sessions`: the viewer under 1…N concurrent customers.
fn viewer_load(cli: &Cli, remoto: PathBuf, seconds: f64) -> ExitCode {
    let viewer = match bench::build_bin("viewer") {
        Ok(v) => v,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(1);
        }
    };
    let bins = viewer_load::Binaries { viewer, remoto };
    let art = tests::Artifacts::new("bench-viewer-load");
    let ticks = run::clock_ticks();
    let (date, machine, load) = (bench::now_utc(), bench::machine(), bench::load_average());
    let mut runs = Vec::new();
    for &n in &cli.viewer_sessions {
        let f = viewer_load::run(&bins, &art, usize::from(n), seconds, ticks);
        eprintln!(
            "{n:>3} sessions: {}",
            match &f.error {
                Some(e) => format!("FAILED: {e}"),
                None => format!(
                    "viewer {:.1}% CPU, {:.1} MiB; remotos {:.1}% CPU",
                    f.viewer_cpu_pct, f.viewer_rss_mib, f.remotos_cpu_pct
                ),
            }
        );
        runs.push(f);
    }
    let md = viewer_load::markdown(&runs, &date, &machine, &load);
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| bench::workspace_root().join("bench/results"));
    let json = serde_json::to_string_pretty(&runs).unwrap_or_default();
    let (jp, mp) = (out.join("viewer-load.json"), out.join("viewer-load.md"));
    if let Err(e) = std::fs::create_dir_all(&out)
        .and_then(|()| std::fs::write(&jp, json))
        .and_then(|()| std::fs::write(&mp, &md))
    {
        eprintln!("bench: cannot write results in {}: {e}", out.display());
        return ExitCode::from(1);
    }
    println!("{md}");
    println!("wrote {} and {}", jp.display(), mp.display());
    if runs.iter().any(|r| r.error.is_some()) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mode = if cli.quick { "quick" } else { "full" };
    let workloads: Vec<Workload> = if cli.workload.is_empty() {
        Workload::ALL.to_vec()
    } else {
        let mut v = Vec::new();
        for w in &cli.workload {
            match Workload::parse(w) {
                Some(w) => v.push(w),
                None => {
                    eprintln!("bench: unknown workload {w:?}");
                    return ExitCode::from(2);
                }
            }
        }
        v
    };
    let contestants: Vec<Contestant> = if cli.contestant.is_empty() {
        Contestant::ALL.to_vec()
    } else {
        let mut v = Vec::new();
        for c in &cli.contestant {
            match Contestant::parse(c) {
                Some(c) => v.push(c),
                None => {
                    eprintln!("bench: unknown contestant {c:?}");
                    return ExitCode::from(2);
                }
            }
        }
        v
    };
    let sizes: Vec<(u16, u16)> = if cli.size.is_empty() {
        if cli.quick {
            vec![(1280, 800)]
        } else {
            vec![(1280, 800), (1920, 1080)]
        }
    } else {
        let mut v = Vec::new();
        for s in &cli.size {
            match parse_size(s) {
                Some(s) => v.push(s),
                None => {
                    eprintln!("bench: bad size {s:?} (WxH, from 800x600 to 4096x4096)");
                    return ExitCode::from(2);
                }
            }
        }
        v
    };
    let jpeg = cli.jpeg || (!cli.quick && !cli.no_jpeg);
    let seconds = |w: Workload| {
        cli.seconds.unwrap_or(match (cli.quick, w) {
            (true, Workload::Probe) => 4.0,
            (true, _) => 3.0,
            (false, Workload::Probe) => 25.0,
            (false, Workload::Idle) => 15.0,
            (false, _) => 10.0,
        })
    };
    let remoto = match cli
        .remoto
        .clone()
        .map(Ok)
        .unwrap_or_else(bench::build_remoto)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(1);
        }
    };
    if !cli.viewer_sessions.is_empty() {
        let seconds = cli.seconds.unwrap_or(if cli.quick { 5.0 } else { 10.0 });
        return viewer_load(&cli, remoto, seconds);
    }
    let artifacts = tests::Artifacts::new(&format!("bench-{mode}"));
    let env = match Env::new(&remoto, artifacts) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(1);
        }
    };
    let mut specs = Vec::new();
    for &(width, height) in &sizes {
        for &workload in &workloads {
            let passes: &[bool] = if jpeg && matches!(workload, Workload::Photos | Workload::Video)
            {
                &[false, true]
            } else {
                &[false]
            };
            for &j in passes {
                for &contestant in &contestants {
                    // A file transfer needs the secure channel.
                    if workload == Workload::Transfer && contestant != Contestant::RemotoCrypto {
                        continue;
                    }
                    specs.push(Spec {
                        width,
                        height,
                        workload,
                        contestant,
                        jpeg: j,
                        seconds: seconds(workload),
                    });
                }
            }
        }
    }
    let mut report = Report {
        mode: mode.into(),
        date: bench::now_utc(),
        machine: bench::machine(),
        load_start: bench::load_average(),
        load_end: String::new(),
        encodings: format!(
            "{:?} + CompressLevel {} (+ QualityLevel {} in the JPEG pass)",
            bench::client::ENCODINGS,
            bench::client::COMPRESS_LEVEL,
            bench::client::JPEG_QUALITY
        ),
        runs: Vec::new(),
    };
    let started = std::time::Instant::now();
    for (i, spec) in specs.iter().enumerate() {
        let f = run::run(&env, *spec);
        eprintln!(
            "[{:>3}/{}] {:>5.0}s {}x{} {:<11} {:<13} {:<8} {}",
            i + 1,
            specs.len(),
            started.elapsed().as_secs_f64(),
            spec.width,
            spec.height,
            spec.workload.name(),
            spec.contestant.name(),
            if spec.jpeg { "jpeg" } else { "lossless" },
            match &f.error {
                Some(e) => format!("FAILED: {e}"),
                None => format!(
                    "{:.1} KiB, cpu {:.2}s, p50 {} ms, first {:.0} ms, same {}",
                    f.bytes as f64 / 1024.0,
                    f.server_cpu_s,
                    f.p50_ms.map_or("-".into(), |v| format!("{v:.1}")),
                    f.first_frame_ms.unwrap_or(0.0),
                    f.identical
                ),
            }
        );
        report.runs.push(f);
    }
    report.load_end = bench::load_average();
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| bench::workspace_root().join("bench/results"));
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("bench: cannot create {}: {e}", out.display());
        return ExitCode::from(1);
    }
    let json = match serde_json::to_string_pretty(&report) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::from(1);
        }
    };
    let md = report.markdown();
    let (jp, mp) = (
        out.join(format!("{mode}.json")),
        out.join(format!("{mode}.md")),
    );
    if let Err(e) = std::fs::write(&jp, json).and_then(|()| std::fs::write(&mp, &md)) {
        eprintln!("bench: cannot write results: {e}");
        return ExitCode::from(1);
    }
    println!("{md}");
    println!("wrote {} and {}", jp.display(), mp.display());
    if report.runs.iter().any(|r| r.error.is_some()) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
