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

/// A team list whose `expires` date has passed, with two phone numbers.
const EXPIRED: &str = r#"
[brand]
name = "claro.it"
phones = ["+39 02 1111111", "+39 06 2222222"]
language = "en"
expires = 2020-01-31

[[technician]]
id = "Verde"
endpoints = ["127.0.0.1:5599"]
mode = "clear"
"#;

#[test]
fn expired_profile_is_refused_naming_the_phones() {
    let art = Artifacts::new("remoto_profile_expired");
    let toml = art.write("expired.toml", EXPIRED);
    // The team tool refuses to pack an expired list…
    let res = run_with_timeout(
        Command::new(viewer_bin())
            .args(["profile", "pack", "--binary"])
            .arg(remoto_bin())
            .arg("--profile")
            .arg(&toml)
            .arg("--out")
            .arg(art.path("Remoto-refused")),
        TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !res.status.success(),
        "viewer profile pack packed an expired profile"
    );
    assert!(
        res.stderr_text().contains("expired"),
        "pack's refusal does not say why: {}",
        res.stderr_text()
    );
    assert!(!art.path("Remoto-refused").exists());
    // …so the trailer is crafted directly: a list that expired after it
    // was handed out.
    let binary = std::fs::read(remoto_bin()).expect("read remoto");
    let packed = profiles::pack(&binary, EXPIRED).expect("pack the trailer");
    let path = art.path("Remoto-expired");
    std::fs::write(&path, packed).expect("write the packed copy");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    for args in [&["--list"][..], &["connect", "Verde", "--yes"][..]] {
        let res =
            run_with_timeout(&mut command(&path, args), TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
        let err = res.stderr_text();
        art.write(
            &format!("{}.stderr.txt", args[0].trim_start_matches('-')),
            &err,
        );
        assert_eq!(
            res.status.code(),
            Some(3),
            "{args:?}: exit code; stderr:\n{err}"
        );
        assert!(err.contains("expired on 2020-01-31"), "{args:?}: {err}");
        assert!(
            err.contains("+39 02 1111111") && err.contains("+39 06 2222222"),
            "{args:?}: the refusal does not name the team's phones:\n{err}"
        );
        assert!(
            res.stdout_text().is_empty(),
            "{args:?}: {}",
            res.stdout_text()
        );
    }
    // The packed copy is as large as a debug remoto: do not keep it.
    let _ = std::fs::remove_file(&path);
}

/// A valid team list for the rebuild test.
const TEAM_BUILD: &str = r#"[brand]
name = "rebuilt team"
phones = ["+39 02 3333333"]
language = "en"

[[technician]]
id = "Rosso"
endpoints = ["127.0.0.1:5591"]
mode = "clear"
"#;

/// The same list with an error on line 9, column 8 (the value).
const TEAM_BAD: &str = r#"[brand]
name = "rebuilt team"
phones = ["+39 02 3333333"]
language = "en"

[[technician]]
id = "Rosso"
endpoints = ["127.0.0.1:5591"]
mode = "cleer"
"#;

/// `REMOTO_PROFILE=… cargo build -p remoto` into its own target directory
/// (`<target>/remoto-profile-build`, so the tests' remoto is not
/// replaced); returns the output and how long it took.
fn build_with_profile(profile: &Path) -> (tests::process::Output, std::time::Duration) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = tests::artifacts::target_dir().join("remoto-profile-build");
    let t = std::time::Instant::now();
    let out = run_with_timeout(
        Command::new(cargo)
            .current_dir(tests::remoto::workspace_root())
            .env("CARGO_TARGET_DIR", &target)
            .env("REMOTO_PROFILE", profile)
            // Unoptimised, without debug info: this build only proves the
            // list is embedded, and must stay short in CI.
            .args([
                "build",
                "--locked",
                "-p",
                "remoto",
                "--config",
                "profile.dev.opt-level=0",
                "--config",
                "profile.dev.package.\"*\".opt-level=0",
                "--config",
                "profile.dev.debug=0",
            ]),
        std::time::Duration::from_secs(3600),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (out, t.elapsed())
}

/// Issue 5: rebuilding Remoto with a team list (`REMOTO_PROFILE=… cargo
/// build -p remoto`), in a target directory of its own so that the other
/// tests' binaries are untouched: an invalid list fails the build with
/// file:line:column, a valid one is what `remoto --list` prints.
#[test]
fn rebuild_with_team_profile() {
    let art = Artifacts::new("remoto_profile_rebuild");
    // An invalid list fails the build with file:line:column.
    let bad = art.write("team-bad.toml", TEAM_BAD);
    let (out, took) = build_with_profile(&bad);
    art.write("build-bad.stderr.txt", out.stderr_text());
    eprintln!("build with an invalid profile failed after {took:?}");
    assert!(
        !out.status.success(),
        "the build accepted an invalid profile"
    );
    let want = format!("{}:9:8: error:", bad.display());
    assert!(
        out.stderr_text().contains(&want),
        "no {want:?} in the build output:\n{}",
        out.stderr_text()
    );

    let good = art.write("team.toml", TEAM_BUILD);
    let (out, took) = build_with_profile(&good);
    art.write("build.stderr.txt", out.stderr_text());
    eprintln!("build with the team profile took {took:?}");
    assert!(out.status.success(), "build failed:\n{}", out.stderr_text());
    let bin = tests::artifacts::target_dir().join("remoto-profile-build/debug/remoto");
    let (ok, text, err) = list(&bin);
    art.write("list.txt", &text);
    assert!(ok, "--list failed: {err}");
    assert!(
        text.contains("rebuilt team") && text.contains("(built in technician list)"),
        "{text}"
    );
    assert!(text.contains("Rosso") && !text.contains("Demo"), "{text}");
}
