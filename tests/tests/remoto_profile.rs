//! The support team's workflow on the real binaries: repack a prebuilt
//! `remoto` with another technician list (`viewer profile pack`), see it with
//! `--list`, repack again, and check that a damaged trailer stops Remoto with
//! a clear message before it touches the network.

use std::path::Path;
use std::process::Command;

use tests::process::{command, require_tool, run_with_timeout};
use tests::remoto::{remoto_bin, viewer_bin};
use tests::{Artifacts, TIMEOUT};

const TEAM_A: &str = r#"
[brand]
name = "claro.it"
title = "Assistenza remota"
message = "Telefona e chiedi il tuo tecnico."
phones = ["+39 02 0000000"]
language = "it"

[[technician]]
id = "Verde"
endpoints = ["127.0.0.1:5599"]
mode = "clear"

[[technician]]
id = "Azzurro"
endpoints = ["127.0.0.1:5598"]
mode = "clear"
"#;

const TEAM_B: &str = r#"
[brand]
name = "other team"
phones = ["+39 06 0000000"]
language = "en"

[[technician]]
id = "Viola"
endpoints = ["127.0.0.1:5597"]
mode = "clear"
"#;

fn pack(art: &Artifacts, binary: &Path, profile: &str, name: &str) -> std::path::PathBuf {
    let toml = art.dir().join(format!("{name}.toml"));
    std::fs::write(&toml, profile).expect("write profile");
    let out = art.dir().join(name);
    let res = run_with_timeout(
        Command::new(viewer_bin())
            .arg("profile")
            .arg("pack")
            .arg("--binary")
            .arg(binary)
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(&out),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(res.status.success(), "pack failed: {}", res.stderr_text());
    out
}

fn list(binary: &Path) -> (bool, String, String) {
    let res = run_with_timeout(&mut command(binary, ["--list"]), TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    (res.status.success(), res.stdout_text(), res.stderr_text())
}

#[test]
fn pack_repack_and_damaged_trailers() {
    require_tool("strace", "strace");
    let art = Artifacts::new("remoto_profile_pack");
    let packed = pack(&art, &remoto_bin(), TEAM_A, "Remoto-A");
    let (ok, out, err) = list(&packed);
    art.write("list-a.txt", &out);
    assert!(ok, "packed --list failed: {err}");
    assert!(
        out.contains("claro.it") && out.contains("(packed technician list)"),
        "{out}"
    );
    assert!(out.contains("Verde") && out.contains("Azzurro"), "{out}");
    assert!(
        !out.contains("Demo"),
        "the built-in list still shows: {out}"
    );

    // Repacking a packed binary replaces the list.
    let repacked = pack(&art, &packed, TEAM_B, "Remoto-B");
    let (ok, out, err) = list(&repacked);
    art.write("list-b.txt", &out);
    assert!(ok, "repacked --list failed: {err}");
    assert!(out.contains("Viola") && !out.contains("Verde"), "{out}");

    // Three kinds of damage: a changed profile byte, a cut footer, a length
    // pointing outside the file.
    let good = std::fs::read(&packed).expect("read packed");
    let n = good.len();
    let mut flipped = good.clone();
    flipped[n - 64 - 10] ^= 0x20;
    let cut = good[..n - 10].to_vec();
    let mut far = good.clone();
    far[n - 64 + 16..n - 64 + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    for (name, bytes) in [("flipped", flipped), ("cut", cut), ("far", far)] {
        let path = art.dir().join(format!("Remoto-{name}"));
        std::fs::write(&path, &bytes).expect("write damaged");
        let mut perm = std::fs::metadata(&path).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&path, perm).expect("chmod");
        let (ok, out, err) = list(&path);
        art.write(&format!("list-{name}.txt"), format!("{out}\n{err}"));
        assert!(!ok, "{name}: a damaged Remoto listed technicians: {out}");
        assert!(
            err.contains("Remoto-") && err.contains("remoto:"),
            "{name}: no clear message naming the file: {err}"
        );
        // `connect` must stop before any network activity.
        let trace = art.dir().join(format!("strace-{name}.txt"));
        let res = run_with_timeout(
            Command::new("strace")
                .args(["-f", "-e", "trace=socket,connect", "-o"])
                .arg(&trace)
                .arg(&path)
                .args(["connect", "Verde", "--yes"]),
            TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            res.status.code(),
            Some(3),
            "{name}: exit code: {}",
            res.stderr_text()
        );
        let t = std::fs::read_to_string(&trace).unwrap_or_default();
        assert!(
            !t.contains("AF_INET"),
            "{name}: a damaged Remoto opened a network socket:\n{t}"
        );
    }
}
