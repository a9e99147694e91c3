//! Embeds the technician list: the profile named by `REMOTO_PROFILE`
//! (default: `profiles/example.toml`), validated, written to
//! `$OUT_DIR/profile.toml` for `include_str!`. A profile with errors fails
//! the build with every error as `file:line:column: error: …`.

fn main() -> std::process::ExitCode {
    profiles::build::run()
}
