//! Build-time embedding.

use profiles::ProfileError;
use profiles::build::{EXAMPLE, EmbedError, OUT_FILE, embed_into, example_path, resolve};
use time::macros::date;

#[test]
fn embeds_the_exact_text() {
    let out = tempfile::tempdir().unwrap();
    let e = embed_into(&example_path(), out.path(), date!(2026 - 01 - 01)).unwrap();
    assert_eq!(e.out, out.path().join(OUT_FILE));
    assert_eq!(std::fs::read_to_string(&e.out).unwrap(), EXAMPLE);
    assert_eq!(
        e.warnings.warnings().count(),
        1,
        "the clear demo technician"
    );
    // Embedding again leaves the file alone.
    let before = std::fs::metadata(&e.out).unwrap().modified().unwrap();
    embed_into(&example_path(), out.path(), date!(2026 - 01 - 01)).unwrap();
    assert_eq!(
        std::fs::metadata(&e.out).unwrap().modified().unwrap(),
        before
    );
}

#[test]
fn bad_profile_fails_with_all_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("team.toml");
    std::fs::write(&p, "[brand]\nname = \"x\"\nexpires = 2020-01-01\n[[technician]]\nid = \"A\"\nendpoints = [\"h:0\"]\nmode = \"crypto\"\n").unwrap();
    let err = embed_into(&p, dir.path(), date!(2026 - 01 - 01)).unwrap_err();
    let EmbedError::Profile(ProfileError::Invalid(report)) = &err else {
        panic!("{err}")
    };
    let text = report.to_string();
    assert!(
        text.contains("team.toml:3:11: error: the profile expired"),
        "{text}"
    );
    assert!(text.contains("team.toml:6:17: error: port 0"), "{text}");
    assert!(text.contains("team.toml:7:1: error:"), "{text}");
    assert!(!dir.path().join(OUT_FILE).exists(), "nothing written");
    let missing = embed_into(
        &dir.path().join("nope.toml"),
        dir.path(),
        date!(2026 - 01 - 01),
    )
    .unwrap_err();
    assert!(matches!(
        missing,
        EmbedError::Profile(ProfileError::Io { .. })
    ));
}

#[test]
fn relative_paths_resolve_from_the_workspace_root() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let remoto_dir = manifest.parent().unwrap().join("remoto");
    assert_eq!(
        resolve("profiles/example.toml".as_ref(), &remoto_dir),
        manifest.parent().unwrap().join("profiles/example.toml")
    );
    assert_eq!(
        resolve("/abs/x.toml".as_ref(), &remoto_dir),
        std::path::PathBuf::from("/abs/x.toml")
    );
    assert_eq!(
        resolve("missing.toml".as_ref(), &remoto_dir),
        remoto_dir.join("missing.toml")
    );
}
