//! JSON and Markdown output, with ratios against the best peer of each row.

use std::fmt::Write as _;

use crate::run::{Contestant, Figures};
use crate::workload::Workload;

/// The whole result file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: String,
    /// When it ran (UTC, RFC 3339-like, from `date -u`).
    pub date: String,
    /// `lscpu` model name and CPU count.
    pub machine: String,
    /// Load average when the run started.
    pub load_start: String,
    /// Load average when the run ended.
    pub load_end: String,
    /// The client's encoding list, as sent.
    pub encodings: String,
    /// Every run.
    pub runs: Vec<Figures>,
}

/// Best (smallest) value among the peers of a row group.
fn best_peer(rows: &[&Figures], f: impl Fn(&Figures) -> Option<f64>) -> Option<f64> {
    rows.iter()
        .filter(|r| r.spec.contestant.is_peer() && r.error.is_none())
        .filter_map(|r| f(r))
        .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.min(v))))
}

fn ratio(v: Option<f64>, best: Option<f64>) -> String {
    match (v, best) {
        (Some(v), Some(b)) if b > 0.0 => format!("{:.2}", v / b),
        (Some(0.0), Some(_)) => "1.00".into(),
        (Some(_), Some(_)) => "∞".into(),
        _ => "–".into(),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

impl Report {
    /// Renders the Markdown tables.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# Remoto vs x11vnc vs TigerVNC ({} run, {})\n",
            self.mode, self.date
        );
        let _ = writeln!(
            s,
            "Machine: {}; load average at start {}, at end {}.\n",
            self.machine, self.load_start, self.load_end
        );
        let _ = writeln!(
            s,
            "Client: the bench's `rfb::ClientSession`, SetEncodings {}; pixel format RGB888; \
             one FramebufferUpdateRequest after each update (no ContinuousUpdates). \
             `bytes` = server→client bytes on the TCP connection during the script (crypto: \
             Noise framing included); `CPU` = server utime+stime during the script; `X CPU` = \
             the X server's; ×best = this row ÷ the best of x11vnc/TigerVNC (lower is better); \
             latency = probe square flip → the client decoded the new colour. \
             `same` = the client's final picture equals the X screen (JPEG run: within tolerance).\n",
            self.encodings
        );
        for jpeg in [false, true] {
            let rows: Vec<&Figures> = self.runs.iter().filter(|r| r.spec.jpeg == jpeg).collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "## {}\n",
                if jpeg {
                    "JPEG allowed (Tight, QualityLevel 8)"
                } else {
                    "Lossless (Tight without JPEG, CopyRect, ZRLE, Hextile, Raw)"
                }
            );
            let _ = writeln!(
                s,
                "| size | workload | server | KiB | ×best | CPU s | ×best | X CPU s | RSS MiB | upd/s | p50 ms | p95 ms | p99 ms | ×best p50 | seen/flips | first frame ms | same |"
            );
            let _ = writeln!(
                s,
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
            );
            let mut groups: Vec<(u16, u16, Workload)> = Vec::new();
            for r in &rows {
                let k = (r.spec.width, r.spec.height, r.spec.workload);
                if !groups.contains(&k) {
                    groups.push(k);
                }
            }
            for (w, h, wl) in groups {
                let group: Vec<&Figures> = rows
                    .iter()
                    .copied()
                    .filter(|r| (r.spec.width, r.spec.height, r.spec.workload) == (w, h, wl))
                    .collect();
                let b_bytes = best_peer(&group, |r| Some(r.bytes as f64));
                let b_cpu = best_peer(&group, |r| Some(r.server_cpu_s));
                let b_p50 = best_peer(&group, |r| r.p50_ms);
                for r in &group {
                    let c = r.spec.contestant;
                    if let Some(e) = &r.error {
                        let short: String = e.chars().take(160).collect();
                        let _ = writeln!(
                            s,
                            "| {w}×{h} | {} | {} | failed: {} ||||||||||||||",
                            wl.name(),
                            c.name(),
                            short.replace('|', "/").replace('\n', " ")
                        );
                        continue;
                    }
                    let remoto = !c.is_peer();
                    let rat = |v, b| if remoto { ratio(v, b) } else { String::new() };
                    let _ = writeln!(
                        s,
                        "| {w}×{h} | {} | {} | {:.1} | {} | {:.2} | {} | {:.2} | {:.1} | {:.1} | {} | {} | {} | {} | {}/{} | {} | {} |",
                        wl.name(),
                        if remoto {
                            format!("**{}**", c.name())
                        } else {
                            c.name().to_string()
                        },
                        r.bytes as f64 / 1024.0,
                        rat(Some(r.bytes as f64), b_bytes),
                        r.server_cpu_s,
                        rat(Some(r.server_cpu_s), b_cpu),
                        r.x_cpu_s,
                        r.peak_rss_mib,
                        r.updates_per_s,
                        ms(r.p50_ms),
                        ms(r.p95_ms),
                        ms(r.p99_ms),
                        rat(r.p50_ms, b_p50),
                        r.probe_seen,
                        r.probe_flips,
                        ms(r.first_frame_ms),
                        if r.identical { "yes" } else { "**no**" },
                    );
                }
            }
            s.push('\n');
        }
        // Crypto overhead and first frames.
        let mut lines = Vec::new();
        for r in self
            .runs
            .iter()
            .filter(|r| r.spec.contestant == Contestant::RemotoCrypto && r.error.is_none())
        {
            let clear = self.runs.iter().find(|c| {
                c.spec.contestant == Contestant::RemotoClear
                    && c.error.is_none()
                    && (c.spec.width, c.spec.height, c.spec.workload, c.spec.jpeg)
                        == (r.spec.width, r.spec.height, r.spec.workload, r.spec.jpeg)
            });
            if let Some(c) = clear {
                let over = if c.server_cpu_s > 0.0 {
                    format!("{:+.0}%", (r.server_cpu_s / c.server_cpu_s - 1.0) * 100.0)
                } else {
                    "–".into()
                };
                lines.push(format!(
                    "| {}×{} | {} | {} | {:.2} | {:.2} | {} | {:+.1}% | {} | {} |",
                    r.spec.width,
                    r.spec.height,
                    r.spec.workload.name(),
                    if r.spec.jpeg { "jpeg" } else { "lossless" },
                    c.server_cpu_s,
                    r.server_cpu_s,
                    over,
                    if c.bytes > 0 {
                        (r.bytes as f64 / c.bytes as f64 - 1.0) * 100.0
                    } else {
                        0.0
                    },
                    ms(c.first_frame_ms),
                    ms(r.first_frame_ms),
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(
                s,
                "## Remoto crypto vs clear\n\n| size | workload | run | CPU s clear | CPU s crypto | CPU overhead | bytes overhead | first frame ms clear | first frame ms crypto |\n|---|---|---|---:|---:|---:|---:|---:|---:|"
            );
            for l in lines {
                let _ = writeln!(s, "{l}");
            }
            s.push('\n');
        }
        let transfers: Vec<_> = self
            .runs
            .iter()
            .filter_map(|r| r.transfer.as_ref().map(|t| (r, t)))
            .collect();
        if !transfers.is_empty() {
            let _ = writeln!(
                s,
                "## Probe latency during a file transfer (remoto-crypto, typing)\n\nThe technician sends a {} MiB file to the customer over the same secure session (again, one after the other, until 40 probe flips fell inside transfers); probe latency of the flips made before the first offer and of those made between the customer's accept and the file being saved.\n\n| size | p50 ms before | p95 ms before | seen | p50 ms during | p95 ms during | seen | p95 during ÷ before | files | transfer s | MB/s | saved |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
                crate::run::TRANSFER_BYTES / (1024 * 1024)
            );
            for (r, t) in transfers {
                let _ = writeln!(
                    s,
                    "| {}×{} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} |",
                    r.spec.width,
                    r.spec.height,
                    ms(t.idle_p50_ms),
                    ms(t.idle_p95_ms),
                    t.idle_seen,
                    ms(t.during_p50_ms),
                    ms(t.during_p95_ms),
                    t.during_seen,
                    t.p95_ratio.map_or("–".into(), |x| format!("{x:.2}")),
                    t.transfers,
                    t.seconds,
                    t.bytes as f64 / 1e6 / t.seconds.max(1e-3),
                    if t.saved { "yes" } else { "no" },
                );
            }
            s.push('\n');
        }
        s
    }

    /// Whether every run finished and every lossless picture matched.
    pub fn all_identical(&self) -> bool {
        self.runs.iter().all(|r| r.error.is_none() && r.identical)
    }
}
