//! Embedding a profile at build time, for `remoto/build.rs`.
//!
//! ```no_run
//! // remoto/build.rs
//! fn main() -> std::process::ExitCode {
//!     profiles::build::run()
//! }
//! ```
//!
//! and in Remoto:
//! `const PROFILE: &str = include_str!(concat!(env!("OUT_DIR"), "/profile.toml"));`

use crate::{ProfileError, Report, load_file, today_utc};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::Date;

/// The environment variable naming the profile to build in.
pub const PROFILE_ENV: &str = "REMOTO_PROFILE";
/// The file written into `OUT_DIR`.
pub const OUT_FILE: &str = "profile.toml";

/// The demo profile built in when `REMOTO_PROFILE` is not set.
pub fn example_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/example.toml"))
}

/// The example profile's text.
pub const EXAMPLE: &str = include_str!("../example.toml");

/// A profile written into `OUT_DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The profile file that was embedded.
    pub source: PathBuf,
    /// The file written (`OUT_DIR/profile.toml`).
    pub out: PathBuf,
    /// Its warnings.
    pub warnings: Report,
}

/// Why a profile could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Not running inside a build script.
    #[error("OUT_DIR is not set: profiles::build::embed is meant for build scripts")]
    NoOutDir,
    /// The profile could not be read or has errors.
    #[error("{0}")]
    Profile(#[from] ProfileError),
    /// Writing the output failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Validates `profile` (or the example profile when `None`) with today's
/// date and writes it to `$OUT_DIR/profile.toml`.
pub fn embed(profile: Option<&Path>) -> Result<Embedded, EmbedError> {
    let out_dir = std::env::var_os("OUT_DIR").ok_or(EmbedError::NoOutDir)?;
    let source = profile.map_or_else(example_path, Path::to_path_buf);
    embed_into(&source, Path::new(&out_dir), today_utc())
}

/// Validates `profile` as of `today` and writes its exact text to
/// `out_dir/profile.toml`.
pub fn embed_into(profile: &Path, out_dir: &Path, today: Date) -> Result<Embedded, EmbedError> {
    let validated = load_file(profile, Some(today))?;
    // load_file validated these very bytes as UTF-8; read them again for the copy.
    let text = crate::read_limited(profile)?;
    let out = out_dir.join(OUT_FILE);
    let io = |source| EmbedError::Io {
        path: out.clone(),
        source,
    };
    // Write only on change, so that remoto is not rebuilt for nothing.
    if std::fs::read(&out).ok().as_deref() != Some(&text[..]) {
        std::fs::write(&out, &text).map_err(io)?;
    }
    Ok(Embedded {
        source: profile.to_path_buf(),
        out,
        warnings: validated.report,
    })
}

/// Where a `REMOTO_PROFILE` value points: absolute paths as they are;
/// relative ones against the package directory, else against the
/// workspace root above it (so `REMOTO_PROFILE=profiles/claro.toml`
/// works from the workspace root).
pub fn resolve(value: &OsStr, manifest_dir: &Path) -> PathBuf {
    let p = Path::new(value);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    manifest_dir
        .ancestors()
        .map(|dir| dir.join(p))
        .find(|c| c.is_file())
        .unwrap_or_else(|| manifest_dir.join(p))
}

/// The whole build-script flow: read `REMOTO_PROFILE`, print the
/// `rerun-if` lines, embed, and on error print every diagnostic and fail
/// the build. Warnings of a team profile become `cargo:warning` lines.
pub fn run() -> ExitCode {
    println!("cargo:rerun-if-env-changed={PROFILE_ENV}");
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let chosen = std::env::var_os(PROFILE_ENV)
        .filter(|v| !v.is_empty())
        .map(|v| resolve(&v, &manifest_dir));
    let path = chosen.clone().unwrap_or_else(example_path);
    println!("cargo:rerun-if-changed={}", path.display());
    match embed(Some(&path)) {
        Ok(embedded) => {
            if chosen.is_some() {
                for line in embedded.warnings.to_string().lines() {
                    println!("cargo:warning={line}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(EmbedError::Profile(ProfileError::Invalid(report))) => {
            eprintln!("{}", report.render());
            eprintln!(
                "error: the profile {} has errors; fix them and build again ({PROFILE_ENV} chooses the profile)",
                path.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: cannot embed the profile: {e}");
            if chosen.is_some() {
                eprintln!(
                    "({PROFILE_ENV} is resolved against {} and the directories above it)",
                    manifest_dir.display()
                );
            }
            ExitCode::FAILURE
        }
    }
}
