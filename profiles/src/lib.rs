//! The technician list (profiles): a TOML file that says who Remoto connects
//! to and how, validated with precise errors (file, line, column, what is
//! wrong and what is expected).
//!
//! - [`validate`] turns profile bytes into a typed [`Profile`] or a [`Report`]
//!   listing every error;
//! - [`build::embed`] is for `remoto/build.rs` (rebuild with a new profile);
//! - [`trailer`] packs a profile into a prebuilt executable and reads it back;
//! - [`load_for_exe`] is what Remoto calls at start: the packed profile if
//!   there is one, else the embedded one.
//!
//! The format is described in the crate's README.md.
#![forbid(unsafe_code)]

pub mod build;
pub mod demo;
pub mod diag;
pub mod endpoint;
pub mod model;
pub mod trailer;
mod validate;

pub use diag::{Diagnostic, Location, Note, Report, Severity};
pub use endpoint::{Endpoint, EndpointError, Host};
pub use model::{
    Brand, Control, Language, Network, Profile, Security, Session, SessionCodePolicy, SystemInfo,
    Technician,
};
pub use trailer::{TrailerError, pack, read_trailer, read_trailer_file};
pub use validate::{MAX_ENDPOINTS, MAX_PHONES, MAX_TECHNICIANS, Validated, validate};

use std::path::{Path, PathBuf};
use time::Date;

/// The largest profile accepted: 256 KiB.
pub const MAX_PROFILE_SIZE: usize = 256 * 1024;

/// Today's date in UTC, for the expiry check.
pub fn today_utc() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// Where the profile Remoto runs with came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileSource {
    /// Built into the executable (`REMOTO_PROFILE` at build time).
    Embedded,
    /// Appended to the executable by `viewer profile pack`.
    Packed,
}

/// A profile loaded at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedProfile {
    /// The typed profile.
    pub profile: Profile,
    /// Where it came from.
    pub source: ProfileSource,
    /// Its warnings (e.g. clear technicians), for the log.
    pub warnings: Report,
}

/// Why no profile could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The profile has errors (the report lists them all).
    #[error("{0}")]
    Invalid(Report),
    /// The executable carries a damaged packed profile.
    #[error("{}: {source}", path.display())]
    Trailer {
        /// The executable.
        path: PathBuf,
        /// What is wrong with the trailer.
        #[source]
        source: TrailerError,
    },
    /// The profile's `expires` date has passed: Remoto refuses to run.
    #[error("this Remoto expired on {expires}: ask your support team for a new one")]
    Expired {
        /// The last valid day.
        expires: Date,
        /// Where the profile came from.
        from: ProfileSource,
    },
}

/// Reads a profile file from disk (at most [`MAX_PROFILE_SIZE`] + 1 bytes are
/// read, so a huge file is reported without being loaded) and validates it.
pub fn load_file(path: &Path, today: Option<Date>) -> Result<Validated, ProfileError> {
    let bytes = read_limited(path)?;
    validate(&bytes, &path.display().to_string(), today).map_err(ProfileError::Invalid)
}

/// Reads at most `MAX_PROFILE_SIZE + 1` bytes of a file.
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, ProfileError> {
    use std::io::Read;
    let io = |source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(MAX_PROFILE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

/// Loads the profile Remoto runs with: the one packed into the executable at
/// `exe_path` if there is one, else `embedded` (the profile built in).
///
/// A damaged trailer is an error (never a silent fall back to the embedded
/// list), and so is a profile whose `expires` date is before today (UTC).
pub fn load_for_exe(exe_path: &Path, embedded: &str) -> Result<LoadedProfile, ProfileError> {
    load_for_exe_on(exe_path, embedded, today_utc())
}

/// [`load_for_exe`] with an explicit "today", for tests.
pub fn load_for_exe_on(
    exe_path: &Path,
    embedded: &str,
    today: Date,
) -> Result<LoadedProfile, ProfileError> {
    let packed = read_trailer_file(exe_path).map_err(|source| match source {
        TrailerError::Io { path, source } => ProfileError::Io { path, source },
        source => ProfileError::Trailer {
            path: exe_path.to_path_buf(),
            source,
        },
    })?;
    let (text, source, name) = match &packed {
        Some(text) => (
            text.as_str(),
            ProfileSource::Packed,
            format!("{} (packed profile)", exe_path.display()),
        ),
        None => (
            embedded,
            ProfileSource::Embedded,
            "embedded profile".to_string(),
        ),
    };
    let Validated { profile, report } =
        validate(text.as_bytes(), &name, None).map_err(ProfileError::Invalid)?;
    if let Some(expires) = profile.brand.expires
        && profile.is_expired(today)
    {
        return Err(ProfileError::Expired {
            expires,
            from: source,
        });
    }
    Ok(LoadedProfile {
        profile,
        source,
        warnings: report,
    })
}
