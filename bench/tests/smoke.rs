//! CI smoke run of the benchmark harness: a very short `--quick` run of the
//! probe workload with every contestant. It checks that the harness works
//! end to end (Xvfb, workload client, Remoto clear and crypto, x11vnc,
//! TigerVNC, the measuring client) and writes well-formed results in which
//! every run finished and every final picture matched the X screen. It
//! asserts no timing: benchmarks are not timed tests.

use std::process::Command;

#[test]
fn quick_probe_run_writes_a_well_formed_table() {
    for (tool, package) in [
        ("Xvfb", "xvfb"),
        ("xdpyinfo", "x11-utils"),
        ("x11vnc", "x11vnc"),
        ("X0tigervnc", "tigervnc-scraping-server"),
    ] {
        tests::require_tool(tool, package);
    }
    let out = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args([
            "--quick",
            "--workload",
            "probe",
            "--seconds",
            "1.5",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run the bench binary");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "bench failed ({}):\nstderr:\n{stderr}\nstdout:\n{stdout}",
        run.status
    );
    let json = std::fs::read_to_string(out.path().join("quick.json")).expect("quick.json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let runs = v["runs"].as_array().expect("runs array");
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["spec"]["contestant"].as_str().expect("contestant"))
        .collect();
    assert_eq!(
        names,
        ["remoto-clear", "remoto-crypto", "x11vnc", "tigervnc"],
        "one run per contestant"
    );
    for r in runs {
        let who = &r["spec"]["contestant"];
        assert!(r["error"].is_null(), "{who} failed: {}", r["error"]);
        assert_eq!(r["spec"]["workload"], "probe");
        assert_eq!(r["identical"], true, "{who}: final picture differs: {r}");
        assert!(
            r["bytes_total"].as_u64().expect("bytes") > 0,
            "{who}: no bytes"
        );
        assert!(
            r["first_frame_ms"].as_f64().is_some(),
            "{who}: no first frame"
        );
        assert!(
            r["probe_flips"].as_u64().expect("flips") > 0,
            "{who}: the probe never flipped"
        );
        assert!(
            r["probe_seen"].as_u64().expect("seen") > 0,
            "{who}: no flip seen"
        );
    }
    let md = std::fs::read_to_string(out.path().join("quick.md")).expect("quick.md");
    let header = md
        .lines()
        .find(|l| l.starts_with("| size |"))
        .expect("a table header");
    let columns = header.matches('|').count();
    // Only the main table: the crypto-vs-clear table below has its own rows.
    let main_table = md.split("## Remoto crypto vs clear").next().unwrap_or(&md);
    let rows: Vec<&str> = main_table
        .lines()
        .filter(|l| l.starts_with("| 1280×800 | probe |"))
        .collect();
    assert_eq!(rows.len(), 4, "one table row per contestant:\n{md}");
    for row in rows {
        assert_eq!(row.matches('|').count(), columns, "ragged row {row:?}");
        assert!(row.ends_with("| yes |"), "picture mismatch in {row:?}");
    }
    assert!(md.contains("## Remoto crypto vs clear"), "{md}");
}
