//! The packed trailer: a profile appended to a prebuilt Remoto executable,
//! so a support team can change the technician list without a compiler.
//!
//! Layout, at the end of the file:
//!
//! ```text
//! … executable … ‖ profile (UTF-8 TOML, N bytes) ‖ footer (64 bytes)
//!
//! footer: magic "RMTOPROF" (8) ‖ version u32 LE (= 1) ‖ reserved u32 (= 0)
//!         ‖ N u64 LE ‖ BLAKE2s-256(profile) (32) ‖ end magic "RMTO-END" (8)
//! ```
//!
//! Appending after the last byte is harmless for both ELF and PE loaders.
//! When a PE is signed *after* packing (osslsigncode, signtool), the
//! Authenticode certificate table is appended after our footer (padded to
//! 8 bytes) and recorded in the optional header's security directory; the
//! reader then looks just before that table too. Packing a binary that is
//! already signed is refused: the signature would no longer cover the file.

use blake2::{Blake2s256, Digest};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::MAX_PROFILE_SIZE;

/// First 8 bytes of the footer.
pub const MAGIC: [u8; 8] = *b"RMTOPROF";
/// Last 8 bytes of the footer (and of a packed, unsigned file).
pub const END_MAGIC: [u8; 8] = *b"RMTO-END";
/// The footer format version written by [`pack`].
pub const VERSION: u32 = 1;
/// Size of the footer in bytes.
pub const FOOTER_LEN: usize = 64;

/// Why a packed trailer could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TrailerError {
    /// The file ends inside a trailer footer (a cut download or copy).
    #[error(
        "the profile trailer is truncated: the file ends {missing} bytes before the end of the trailer"
    )]
    Truncated {
        /// How many footer bytes are missing.
        missing: usize,
    },
    /// The footer's end marker is there but its start marker is not.
    #[error("the profile trailer is damaged: its header is corrupted")]
    BadHeader,
    /// A trailer of a newer format.
    #[error("the profile trailer has format version {0}, this program reads version {VERSION}")]
    UnsupportedVersion(u32),
    /// The recorded length points before the start of the file.
    #[error(
        "the profile trailer's length ({length} bytes) points outside the file (only {available} bytes precede the trailer)"
    )]
    LengthOutsideFile {
        /// Recorded profile length.
        length: u64,
        /// Bytes available before the footer.
        available: u64,
    },
    /// The profile is larger than the limit.
    #[error("the profile is {length} bytes, larger than the {max} bytes allowed")]
    TooLarge {
        /// Its length.
        length: u64,
        /// The limit.
        max: usize,
    },
    /// The profile bytes do not match the checksum.
    #[error(
        "the profile trailer's checksum does not match: the packed profile was altered or damaged"
    )]
    ChecksumMismatch,
    /// The packed profile is not UTF-8.
    #[error("the packed profile is not UTF-8 text")]
    NotUtf8,
    /// `pack` refuses binaries that already carry an Authenticode signature.
    #[error(
        "the binary is already signed (it has a PE certificate table): pack the unsigned binary, then sign the result"
    )]
    Signed,
    /// Reading the executable failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Random access to the bytes of an executable.
trait Source {
    fn len(&self) -> u64;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), TrailerError>;
}

impl Source for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), TrailerError> {
        // Callers only read inside the file; a miss reads as a truncated trailer.
        let start =
            usize::try_from(offset).map_err(|_| TrailerError::Truncated { missing: buf.len() })?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(TrailerError::Truncated { missing: buf.len() })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

struct FileSource<'p> {
    file: File,
    len: u64,
    path: &'p Path,
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), TrailerError> {
        let io = |source| TrailerError::Io {
            path: self.path.to_path_buf(),
            source,
        };
        self.file.seek(SeekFrom::Start(offset)).map_err(io)?;
        self.file.read_exact(buf).map_err(io)
    }
}

/// A trailer found in a file.
struct Found {
    /// Where the executable proper ends (the profile starts).
    start: u64,
    /// The profile text.
    profile: String,
}

fn checksum(profile: &[u8]) -> [u8; 32] {
    Blake2s256::digest(profile).into()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Looks for a trailer ending exactly at `end`.
fn at_end(src: &mut dyn Source, end: u64) -> Result<Option<Found>, TrailerError> {
    let tail_len = end.min(FOOTER_LEN as u64) as usize;
    let mut tail = [0u8; FOOTER_LEN];
    let tail = &mut tail[..tail_len];
    src.read_at(end - tail_len as u64, tail)?;
    if tail_len == FOOTER_LEN && tail[FOOTER_LEN - 8..] == END_MAGIC {
        if tail[..8] != MAGIC {
            return Err(TrailerError::BadHeader);
        }
        return read_footer(src, end, tail).map(Some);
    }
    // A footer cut short: its start marker is in the last 63 bytes.
    if let Some(p) = tail.windows(MAGIC.len()).position(|w| w == MAGIC) {
        return Err(TrailerError::Truncated {
            missing: FOOTER_LEN - (tail_len - p),
        });
    }
    Ok(None)
}

fn read_footer(src: &mut dyn Source, end: u64, footer: &[u8]) -> Result<Found, TrailerError> {
    let version = u32_at(footer, 8).unwrap_or(0);
    if version != VERSION {
        return Err(TrailerError::UnsupportedVersion(version));
    }
    let length = u64_at(footer, 16).unwrap_or(u64::MAX);
    let available = end - FOOTER_LEN as u64;
    if length > available {
        return Err(TrailerError::LengthOutsideFile { length, available });
    }
    if length > MAX_PROFILE_SIZE as u64 {
        return Err(TrailerError::TooLarge {
            length,
            max: MAX_PROFILE_SIZE,
        });
    }
    let start = available - length;
    let mut profile = vec![0u8; length as usize];
    src.read_at(start, &mut profile)?;
    if checksum(&profile)[..] != footer[24..56] {
        return Err(TrailerError::ChecksumMismatch);
    }
    let profile = String::from_utf8(profile).map_err(|_| TrailerError::NotUtf8)?;
    Ok(Found { start, profile })
}

/// The file offset and size of a PE's Authenticode certificate table, if
/// the file is a PE (PE32 or PE32+) whose security directory is set.
/// Every read is bounds-checked: anything malformed reads as "not a PE".
fn pe_certificate_table(src: &mut dyn Source) -> Result<Option<(u64, u64)>, TrailerError> {
    let len = src.len();
    if len < 0x40 {
        return Ok(None);
    }
    let mut dos = [0u8; 0x40];
    src.read_at(0, &mut dos)?;
    if &dos[..2] != b"MZ" {
        return Ok(None);
    }
    let pe = u64::from(u32_at(&dos, 0x3c).unwrap_or(u32::MAX));
    // "PE\0\0" (4) + COFF header (20) + optional header up to the data directories.
    let mut hdr = [0u8; 4 + 20 + 112 + 5 * 8];
    let Some(hdr_end) = pe.checked_add(hdr.len() as u64) else {
        return Ok(None);
    };
    if hdr_end > len {
        return Ok(None);
    }
    src.read_at(pe, &mut hdr)?;
    if &hdr[..4] != b"PE\0\0" {
        return Ok(None);
    }
    let opt_size = usize::from(u16::from_le_bytes([hdr[20], hdr[21]]));
    let opt = 24;
    let (count_at, dirs_at) = match u16::from_le_bytes([hdr[opt], hdr[opt + 1]]) {
        0x10b => (92, 96),
        0x20b => (108, 112),
        _ => return Ok(None),
    };
    // The security directory is entry 4 of the data directories.
    let sec = dirs_at + 4 * 8;
    if opt_size < sec + 8 || u32_at(&hdr, opt + count_at).unwrap_or(0) < 5 {
        return Ok(None);
    }
    let offset = u64::from(u32_at(&hdr, opt + sec).unwrap_or(0));
    let size = u64::from(u32_at(&hdr, opt + sec + 4).unwrap_or(0));
    if size == 0 || offset == 0 || offset.checked_add(size).is_none_or(|e| e > len) {
        return Ok(None);
    }
    Ok(Some((offset, size)))
}

fn find(src: &mut dyn Source) -> Result<Option<Found>, TrailerError> {
    let len = src.len();
    if let Some(found) = at_end(src, len)? {
        return Ok(Some(found));
    }
    let Some((cert, _)) = pe_certificate_table(src)? else {
        return Ok(None);
    };
    // The signer pads the file to 8 bytes before the certificate table.
    let mut pad = [0u8; 8];
    let pad_len = cert.min(8) as usize;
    src.read_at(cert - pad_len as u64, &mut pad[..pad_len])?;
    for zeros in 0..pad_len {
        if pad[pad_len - zeros..pad_len].iter().any(|&b| b != 0) {
            break;
        }
        if let Some(found) = at_end(src, cert - zeros as u64)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Reads the profile packed into an executable's bytes.
///
/// `Ok(None)`: no trailer (the executable uses its embedded profile).
/// A damaged trailer (truncated, wrong checksum, length outside the file…)
/// is an error, never silently ignored.
pub fn read_trailer(exe: &[u8]) -> Result<Option<String>, TrailerError> {
    let mut src = exe;
    Ok(find(&mut src)?.map(|f| f.profile))
}

/// Like [`read_trailer`], reading only the needed parts of the file at `path`.
pub fn read_trailer_file(path: &Path) -> Result<Option<String>, TrailerError> {
    let io = |source| TrailerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut src = FileSource { file, len, path };
    Ok(find(&mut src)?.map(|f| f.profile))
}

/// Appends `profile` to `binary` as a trailer; an existing trailer is
/// replaced (repacking). The profile should have been validated first
/// (see [`crate::validate`]); here it is only checked for size.
///
/// Refuses a signed PE ([`TrailerError::Signed`]) and a binary whose
/// existing trailer is damaged.
pub fn pack(binary: &[u8], profile: &str) -> Result<Vec<u8>, TrailerError> {
    if profile.len() > MAX_PROFILE_SIZE {
        return Err(TrailerError::TooLarge {
            length: profile.len() as u64,
            max: MAX_PROFILE_SIZE,
        });
    }
    let mut src = binary;
    if pe_certificate_table(&mut src)?.is_some() {
        return Err(TrailerError::Signed);
    }
    let base = match at_end(&mut src, binary.len() as u64)? {
        Some(found) => &binary[..found.start as usize],
        None => binary,
    };
    let mut out = Vec::with_capacity(base.len() + profile.len() + FOOTER_LEN);
    out.extend_from_slice(base);
    out.extend_from_slice(profile.as_bytes());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(profile.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(profile.as_bytes()));
    out.extend_from_slice(&END_MAGIC);
    Ok(out)
}

/// The executable without its trailer (the bytes `pack` would start from).
pub fn strip(binary: &[u8]) -> Result<&[u8], TrailerError> {
    let mut src = binary;
    Ok(match at_end(&mut src, binary.len() as u64)? {
        Some(found) => &binary[..found.start as usize],
        None => binary,
    })
}
