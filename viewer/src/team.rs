//! Support-team tools: `viewer profile check`, `viewer profile pack` and
//! `viewer keygen`. Plain functions; `main.rs` maps its subcommands to them.

use crypto::{KeyFileError, KeyPair, PublicKey};
use profiles::{ProfileError, Report, TrailerError};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::Date;

/// The largest executable `profile pack` reads (1 GiB).
pub const MAX_BINARY_SIZE: u64 = 1 << 30;

/// Why a team tool failed. `Display` is the message to print.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The profile has errors: the rendered report (every error, with excerpts).
    #[error("{}", .0.render().trim_end())]
    Invalid(Report),
    /// The binary's existing trailer is damaged, or it is already signed.
    #[error("{}: {source}", path.display())]
    Trailer {
        /// The binary.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: TrailerError,
    },
    /// The binary is larger than [`MAX_BINARY_SIZE`].
    #[error("{}: {size} bytes is too large for a Remoto executable", path.display())]
    TooLarge {
        /// The binary.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Any other profile problem.
    #[error("{0}")]
    Profile(ProfileError),
    /// Writing the key file failed.
    #[error("{0}")]
    Key(#[from] KeyFileError),
}

impl From<ProfileError> for TeamError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Invalid(report) => TeamError::Invalid(report),
            ProfileError::Io { path, source } => TeamError::Io { path, source },
            ProfileError::Trailer { path, source } => TeamError::Trailer { path, source },
            other => TeamError::Profile(other),
        }
    }
}

/// The result of checking a valid profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSummary {
    /// Technicians in the profile.
    pub technicians: usize,
    /// Of which in clear mode.
    pub clear: usize,
    /// Warnings printed.
    pub warnings: usize,
}

/// Validates the profile at `path` as of `today` and writes its warnings to
/// `out` in rustc style with source excerpts; on failure the error's
/// `Display` lists every error the same way.
pub fn check_profile(
    path: &Path,
    today: Date,
    out: &mut dyn Write,
) -> Result<CheckSummary, TeamError> {
    let v = profiles::load_file(path, Some(today))?;
    let _ = out.write_all(v.report.render().as_bytes());
    let clear = v
        .profile
        .technicians
        .iter()
        .filter(|t| !t.is_crypto())
        .count();
    Ok(CheckSummary {
        technicians: v.profile.technicians.len(),
        clear,
        warnings: v.report.warnings().count(),
    })
}

/// `viewer profile check FILE`: prints all errors and warnings (stderr) and
/// a summary (stdout). Exit code 0 if the profile is valid (warnings
/// allowed), 1 otherwise.
pub fn profile_check(path: &Path) -> ExitCode {
    let mut stderr = std::io::stderr();
    match check_profile(path, profiles::today_utc(), &mut stderr) {
        Ok(s) => {
            println!(
                "{}: OK, {} technician{} ({} crypto, {} clear), {} warning{}",
                path.display(),
                s.technicians,
                plural(s.technicians),
                s.technicians - s.clear,
                s.clear,
                s.warnings,
                plural(s.warnings)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// What `profile_pack` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSummary {
    /// The executable written.
    pub out: PathBuf,
    /// Technicians in the packed profile.
    pub technicians: usize,
    /// Size of the packed profile in bytes.
    pub profile_bytes: usize,
    /// `true` if the binary already carried a profile, now replaced.
    pub replaced: bool,
    /// The profile's warnings.
    pub warnings: Report,
}

/// The warnings (rendered), then one line saying what was written.
impl fmt::Display for PackSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.warnings.render())?;
        write!(
            f,
            "wrote {}: {} technician{}, profile of {} bytes{}",
            self.out.display(),
            self.technicians,
            plural(self.technicians),
            self.profile_bytes,
            if self.replaced {
                " (replaced the previous profile)"
            } else {
                ""
            }
        )
    }
}

/// `viewer profile pack --binary B --profile P --out O`: validates the
/// profile, appends it to a copy of the Remoto executable as a trailer
/// (replacing an earlier one) and writes `out` through a temporary file and
/// a rename, executable on Unix. `out` may equal `binary`.
pub fn profile_pack(binary: &Path, profile: &Path, out: &Path) -> Result<PackSummary, TeamError> {
    profile_pack_on(binary, profile, out, profiles::today_utc())
}

/// [`profile_pack`] as of `today`, for tests.
pub fn profile_pack_on(
    binary: &Path,
    profile: &Path,
    out: &Path,
    today: Date,
) -> Result<PackSummary, TeamError> {
    let validated = profiles::load_file(profile, Some(today))?;
    let text = std::fs::read_to_string(profile).map_err(|source| TeamError::Io {
        path: profile.to_path_buf(),
        source,
    })?;
    let io_bin = |source| TeamError::Io {
        path: binary.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(binary).map_err(io_bin)?.len();
    if size > MAX_BINARY_SIZE {
        return Err(TeamError::TooLarge {
            path: binary.to_path_buf(),
            size,
        });
    }
    let bytes = std::fs::read(binary).map_err(io_bin)?;
    let trailer_err = |source| TeamError::Trailer {
        path: binary.to_path_buf(),
        source,
    };
    let replaced = profiles::read_trailer(&bytes)
        .map_err(trailer_err)?
        .is_some();
    let packed = profiles::pack(&bytes, &text).map_err(trailer_err)?;
    drop(bytes);
    // What Remoto will read back must be what was validated.
    let back = profiles::read_trailer(&packed).map_err(|source| TeamError::Trailer {
        path: out.to_path_buf(),
        source,
    })?;
    if back.as_deref() != Some(text.as_str()) {
        return Err(TeamError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::other("the packed profile does not read back"),
        });
    }
    write_atomically(out, &packed)?;
    Ok(PackSummary {
        out: out.to_path_buf(),
        technicians: validated.profile.technicians.len(),
        profile_bytes: text.len(),
        replaced,
        warnings: validated.report,
    })
}

/// A sibling temporary name for `path`.
fn temp_name(path: &Path, what: &str) -> Result<PathBuf, TeamError> {
    let name = path.file_name().ok_or_else(|| TeamError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("not a file name"),
    })?;
    Ok(path.with_file_name(format!(
        ".{}.{what}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Writes `bytes` to a temporary file beside `out` (mode 0755 on Unix),
/// then renames it over `out`.
fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), TeamError> {
    let tmp = temp_name(out, "pack")?;
    let io = |source| TeamError::Io {
        path: out.to_path_buf(),
        source,
    };
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o755);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// The line to paste into a `[[technician]]` entry.
pub fn public_key_line(public: &PublicKey) -> String {
    format!("public_key = \"{public}\"")
}

/// `viewer keygen`: writes a new technician key pair to `out` (mode 0600)
/// and returns it; print [`public_key_line`] of its public key for the
/// profile. An existing file is kept unless `force`, in which case it is
/// replaced atomically (the old key is lost).
pub fn keygen(out: &Path, force: bool) -> Result<KeyPair, TeamError> {
    let pair = KeyPair::generate().map_err(|e| TeamError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(format!("no random numbers from the system: {e}")),
    })?;
    if !force || out.symlink_metadata().is_err() {
        pair.save(out)?;
        return Ok(pair);
    }
    let tmp = temp_name(out, "keygen")?;
    pair.save(&tmp)?;
    std::fs::rename(&tmp, out).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        TeamError::Io {
            path: out.to_path_buf(),
            source,
        }
    })?;
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "rmt17ga4i4tcgu63ji3anfvlh2h2fuod5n7fuvtmsmdp6ssk7sru3n4jnniv34";

    fn today() -> Date {
        Date::from_calendar_date(2026, time::Month::June, 15).unwrap()
    }

    fn good(id: &str) -> String {
        format!(
            "[brand]\nname = \"t\"\n\n[[technician]]\nid = \"{id}\"\nendpoints = [\"h:5500\"]\npublic_key = \"{KEY}\"\n\n\
             [[technician]]\nid = \"C\"\nendpoints = [\"h:5500\"]\nmode = \"clear\"\n"
        )
    }

    #[test]
    fn check_reports_warnings_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("team.toml");
        std::fs::write(&p, good("A")).unwrap();
        let mut out = Vec::new();
        let s = check_profile(&p, today(), &mut out).unwrap();
        assert_eq!(
            s,
            CheckSummary {
                technicians: 2,
                clear: 1,
                warnings: 1
            }
        );
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("team.toml:12:8: warning:"), "{out}");

        std::fs::write(&p, "[brand]\nname = \"t\"\n[[technician]]\nid = \"A\"\nendpoints = [\"h:0\", \"h\"]\nmode = \"clear\"\n").unwrap();
        let err = check_profile(&p, today(), &mut Vec::new()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("team.toml:5:17: error: port 0"), "{msg}");
        assert!(
            msg.contains("team.toml:5:23: error: endpoint \"h\" has no port"),
            "{msg}"
        );
        assert!(msg.contains("2 errors"), "{msg}");
        assert!(matches!(
            check_profile(&dir.path().join("nope"), today(), &mut Vec::new()),
            Err(TeamError::Io { .. })
        ));
    }

    #[test]
    fn pack_writes_an_executable_and_repacks() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("remoto");
        let prof = dir.path().join("team.toml");
        let out = dir.path().join("Remoto");
        std::fs::write(&bin, b"\x7fELF fake binary").unwrap();
        std::fs::write(&prof, good("A")).unwrap();
        let s = profile_pack_on(&bin, &prof, &out, today()).unwrap();
        assert_eq!(s.technicians, 2);
        assert!(!s.replaced);
        assert!(s.to_string().contains("wrote "), "{s}");
        let packed = std::fs::read(&out).unwrap();
        assert_eq!(profiles::read_trailer(&packed).unwrap(), Some(good("A")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&out).unwrap().permissions().mode() & 0o111,
                0o111
            );
        }
        // Repack in place.
        std::fs::write(&prof, good("B")).unwrap();
        let s = profile_pack_on(&out, &prof, &out, today()).unwrap();
        assert!(s.replaced);
        let repacked = std::fs::read(&out).unwrap();
        assert_eq!(profiles::read_trailer(&repacked).unwrap(), Some(good("B")));
        assert!(repacked.starts_with(b"\x7fELF fake binary"));
        assert_eq!(
            repacked.len(),
            b"\x7fELF fake binary".len() + good("B").len() + profiles::trailer::FOOTER_LEN
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temporary file left"
        );

        // An invalid profile writes nothing.
        std::fs::write(&prof, "[brand]\n").unwrap();
        let out2 = dir.path().join("Other");
        assert!(matches!(
            profile_pack_on(&bin, &prof, &out2, today()),
            Err(TeamError::Invalid(_))
        ));
        assert!(!out2.exists());
        // A damaged trailer in the input is refused.
        std::fs::write(&prof, good("A")).unwrap();
        std::fs::write(&bin, &packed[..packed.len() - 5]).unwrap();
        assert!(matches!(
            profile_pack_on(&bin, &prof, &out2, today()),
            Err(TeamError::Trailer { .. })
        ));
    }

    #[test]
    fn keygen_writes_a_loadable_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("technician.key");
        let pair = keygen(&p, false).unwrap();
        assert_eq!(KeyPair::load(&p).unwrap(), pair);
        assert!(matches!(
            keygen(&p, false),
            Err(TeamError::Key(KeyFileError::Exists { .. }))
        ));
        let again = keygen(&p, true).unwrap();
        assert_ne!(again.public, pair.public);
        assert_eq!(KeyPair::load(&p).unwrap(), again);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let line = public_key_line(&again.public);
        assert!(line.starts_with("public_key = \"rmt1") && line.ends_with('"'));
        // The line pastes into a profile as is.
        let profile = format!(
            "[brand]\nname = \"t\"\n[[technician]]\nid = \"A\"\nendpoints = [\"h:1\"]\n{line}\n"
        );
        let v = profiles::validate(profile.as_bytes(), "t", None).unwrap();
        assert_eq!(v.profile.technicians[0].public_key(), Some(&again.public));
    }
}
