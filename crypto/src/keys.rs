//! Technician keys: X25519 public keys and their text form.
//!
//! Text form of a public key, made to be pasted into a profile:
//! `rmt1` + base32 (RFC 4648, lowercase, no padding) of
//! `key (32 bytes) ‖ checksum (4 bytes)`, where the checksum is the first
//! four bytes of BLAKE2s-256(`"remoto public key v1"` ‖ key). 62 characters
//! in all; a typo is caught by the checksum.
//!
//! A technician's key pair is kept in a text file (see [`KeyPair::save`]):
//!
//! ```text
//! # Remoto technician private key: keep it secret (mode 0600), never share it.
//! # public key: rmt1…
//! remoto-private-key-v1 <base32 of key (32 bytes) ‖ checksum (4 bytes)>
//! ```
//!
//! Lines starting with `#` and blank lines are ignored; the one key line
//! holds the X25519 private key in the same base32 form as the public key,
//! with the checksum domain `"remoto private key v1"`. The public key is
//! always derived again from the private key when loading; a `# public key:`
//! comment that disagrees with it is refused.

use blake2::{Blake2s256, Digest};
use data_encoding::BASE32_NOPAD;
use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The prefix of the text form.
pub const PUBLIC_KEY_PREFIX: &str = "rmt1";
const CHECKSUM_DOMAIN: &[u8] = b"remoto public key v1";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text does not start with `rmt1`.
    #[error(
        "a Remoto public key starts with \"{PUBLIC_KEY_PREFIX}\" (as printed by `viewer keygen`)"
    )]
    Prefix,
    /// The text after the prefix is not lowercase base32.
    #[error(
        "a Remoto public key has only the letters a-z and digits 2-7 after \"{PUBLIC_KEY_PREFIX}\""
    )]
    Encoding,
    /// The text has the wrong length.
    #[error("a Remoto public key is {expected} characters long, this one has {found}")]
    Length {
        /// Expected characters.
        expected: usize,
        /// Found characters.
        found: usize,
    },
    /// The checksum does not match: a typo or a truncated copy.
    #[error("the public key's checksum does not match: a character was mistyped or lost")]
    Checksum,
}

/// A technician's static X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Length of the text form.
    pub const TEXT_LEN: usize = 4 + 58;

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn checksum(key: &[u8; 32]) -> [u8; 4] {
        let mut h = Blake2s256::new();
        h.update(CHECKSUM_DOMAIN);
        h.update(key);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 36];
        raw[..32].copy_from_slice(&self.0);
        raw[32..].copy_from_slice(&Self::checksum(&self.0));
        write!(
            f,
            "{PUBLIC_KEY_PREFIX}{}",
            BASE32_NOPAD.encode(&raw).to_ascii_lowercase()
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let body = s.strip_prefix(PUBLIC_KEY_PREFIX).ok_or(KeyError::Prefix)?;
        if body.len() != Self::TEXT_LEN - 4 {
            return Err(KeyError::Length {
                expected: Self::TEXT_LEN,
                found: s.chars().count(),
            });
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(KeyError::Encoding);
        }
        let raw = BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| KeyError::Encoding)?;
        let raw: [u8; 36] = raw.try_into().map_err(|_| KeyError::Encoding)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[..32]);
        if raw[32..] != Self::checksum(&key) {
            return Err(KeyError::Checksum);
        }
        Ok(PublicKey(key))
    }
}

impl PublicKey {
    /// A short human fingerprint, e.g. `ab12-cd34-ef56`: the first six bytes of
    /// BLAKE2s-256(`"remoto fingerprint v1"` ‖ key) in hex, grouped by two bytes.
    /// Good for eyeballing two keys, not a substitute for comparing the full key.
    pub fn fingerprint(&self) -> String {
        let mut h = Blake2s256::new();
        h.update(b"remoto fingerprint v1");
        h.update(self.0);
        let d = h.finalize();
        format!(
            "{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}",
            d[0], d[1], d[2], d[3], d[4], d[5]
        )
    }
}

/// The first token of the key line in a private key file.
pub const PRIVATE_KEY_TAG: &str = "remoto-private-key-v1";
const PRIVATE_CHECKSUM_DOMAIN: &[u8] = b"remoto private key v1";

/// An X25519 private key. Its `Debug` form never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey([u8; 32]);

impl PrivateKey {
    /// Wraps raw key bytes (any 32 bytes are a valid X25519 private key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PrivateKey(bytes)
    }

    /// The raw 32 bytes: handle with care.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The matching public key (X25519 base-point multiplication).
    pub fn public_key(&self) -> PublicKey {
        let mut dh = DefaultResolver
            .resolve_dh(&DHChoice::Curve25519)
            .expect("snow is built with the curve25519 feature");
        dh.set(&self.0);
        let mut key = [0u8; 32];
        key.copy_from_slice(&dh.pubkey()[..32]);
        PublicKey(key)
    }

    fn checksum(key: &[u8; 32]) -> [u8; 4] {
        let mut h = Blake2s256::new();
        h.update(PRIVATE_CHECKSUM_DOMAIN);
        h.update(key);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }

    fn to_text(&self) -> String {
        let mut raw = [0u8; 36];
        raw[..32].copy_from_slice(&self.0);
        raw[32..].copy_from_slice(&Self::checksum(&self.0));
        BASE32_NOPAD.encode(&raw).to_ascii_lowercase()
    }

    fn from_text(body: &str) -> Result<Self, KeyError> {
        if body.len() != 58 {
            return Err(KeyError::Length {
                expected: 58,
                found: body.chars().count(),
            });
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(KeyError::Encoding);
        }
        let raw = BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| KeyError::Encoding)?;
        let raw: [u8; 36] = raw.try_into().map_err(|_| KeyError::Encoding)?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[..32]);
        if raw[32..] != Self::checksum(&key) {
            return Err(KeyError::Checksum);
        }
        Ok(PrivateKey(key))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<secret>)")
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        // Best effort: overwrite the key before the memory is freed.
        self.0 = [0u8; 32];
        std::hint::black_box(&self.0);
    }
}

/// Why a key file could not be written or read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `save` never overwrites a key.
    #[error("{}: a file is already there; Remoto never overwrites a key (move it away first)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The private key file can be read by others.
    #[error(
        "{}: the private key file can be read by other users (mode {mode:03o}); fix it with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file's content is not a Remoto private key.
    #[error("{}:{line}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0: the whole file).
        line: usize,
        /// What is wrong.
        what: String,
    },
}

/// The operating system's random source failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the system random source failed: {0}")]
pub struct RandomError(pub String);

/// A technician's static X25519 key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The private half.
    pub private: PrivateKey,
    /// The public half, as pasted into profiles.
    pub public: PublicKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({})", self.public)
    }
}

/// The largest key file `load` reads.
const MAX_KEY_FILE: u64 = 16 * 1024;

impl KeyPair {
    /// A fresh key pair from the operating system's random source.
    pub fn generate() -> Result<KeyPair, RandomError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
        Ok(Self::from_private(PrivateKey::from_bytes(bytes)))
    }

    /// The key pair of a private key.
    pub fn from_private(private: PrivateKey) -> KeyPair {
        let public = private.public_key();
        KeyPair { private, public }
    }

    /// The text of a key file (see the module documentation).
    pub fn to_file_text(&self) -> String {
        format!(
            "# Remoto technician private key: keep it secret (mode 0600), never share it.\n\
             # public key: {}\n\
             {PRIVATE_KEY_TAG} {}\n",
            self.public,
            self.private.to_text()
        )
    }

    /// Parses the text of a key file; `path` only names the file in errors.
    pub fn from_file_text(text: &str, path: &Path) -> Result<KeyPair, KeyFileError> {
        let fmt_err = |line: usize, what: String| KeyFileError::Format {
            path: path.to_path_buf(),
            line,
            what,
        };
        let mut private = None;
        let mut claimed_public = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(pk) = comment.trim().strip_prefix("public key:") {
                    let pk = pk
                        .parse::<PublicKey>()
                        .map_err(|e| fmt_err(n, e.to_string()))?;
                    claimed_public = Some(pk);
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let body = line.strip_prefix(PRIVATE_KEY_TAG).ok_or_else(|| {
                fmt_err(n, format!("expected a line \"{PRIVATE_KEY_TAG} <key>\""))
            })?;
            if private.is_some() {
                return Err(fmt_err(n, "more than one private key line".into()));
            }
            let key = PrivateKey::from_text(body.trim())
                .map_err(|e| fmt_err(n, format!("bad private key: {e}")))?;
            private = Some(key);
        }
        let private = private.ok_or_else(|| {
            fmt_err(
                0,
                format!("no \"{PRIVATE_KEY_TAG}\" line: not a Remoto private key file"),
            )
        })?;
        let pair = KeyPair::from_private(private);
        if claimed_public.is_some_and(|claimed| claimed != pair.public) {
            return Err(fmt_err(
                0,
                "the \"# public key:\" comment does not match the private key".into(),
            ));
        }
        Ok(pair)
    }

    /// Writes the key pair to a new file readable only by its owner (mode 0600).
    ///
    /// The file is written under a temporary name in the same directory and then
    /// linked into place, so `path` either does not exist or holds the whole key;
    /// an existing file is never overwritten ([`KeyFileError::Exists`]).
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.symlink_metadata().is_ok() {
            return Err(KeyFileError::Exists {
                path: path.to_path_buf(),
            });
        }
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix).map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let name = path
            .file_name()
            .ok_or_else(|| io(std::io::Error::other("not a file name")))?;
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            data_encoding::HEXLOWER.encode(&suffix)
        ));
        let result = (|| {
            let mut f = owner_only_create(&tmp)?;
            f.write_all(self.to_file_text().as_bytes())?;
            f.sync_all()?;
            drop(f);
            std::fs::hard_link(&tmp, path)
        })();
        let _ = std::fs::remove_file(&tmp);
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(KeyFileError::Exists {
                path: path.to_path_buf(),
            }),
            Err(e) => Err(io(e)),
        }
    }

    /// Reads a key file written by [`KeyPair::save`].
    ///
    /// On Unix a file that its group or others may read or write is refused
    /// ([`KeyFileError::Permissions`], which tells the `chmod 600` fix).
    pub fn load(path: &Path) -> Result<KeyPair, KeyFileError> {
        use std::io::Read;
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let meta = f.metadata().map_err(io)?;
        check_owner_only(path, &meta)?;
        let mut text = String::new();
        f.take(MAX_KEY_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    KeyFileError::Format {
                        path: path.to_path_buf(),
                        line: 0,
                        what: "not UTF-8 text: not a Remoto private key file".into(),
                    }
                } else {
                    io(e)
                }
            })?;
        if text.len() as u64 > MAX_KEY_FILE {
            return Err(KeyFileError::Format {
                path: path.to_path_buf(),
                line: 0,
                what: "too large for a key file".into(),
            });
        }
        Self::from_file_text(&text, path)
    }
}

#[cfg(unix)]
fn owner_only_create(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn owner_only_create(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_owner_only(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_and_catches_typos() {
        let k = PublicKey([7u8; 32]);
        let s = k.to_string();
        assert_eq!(s.len(), PublicKey::TEXT_LEN);
        assert_eq!(s.parse::<PublicKey>(), Ok(k));
        let mut typo = s.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(typo.parse::<PublicKey>(), Err(KeyError::Checksum));
        assert_eq!(
            "rmt1abc".parse::<PublicKey>().unwrap_err(),
            KeyError::Length {
                expected: 62,
                found: 7
            }
        );
        assert_eq!("xyz".parse::<PublicKey>().unwrap_err(), KeyError::Prefix);
    }

    #[test]
    fn fingerprint_shape() {
        let fp = PublicKey([7u8; 32]).fingerprint();
        assert_eq!(fp.len(), 14);
        assert_eq!(fp.as_bytes()[4], b'-');
        assert_ne!(fp, PublicKey([8u8; 32]).fingerprint());
    }

    #[test]
    fn public_key_matches_snow() {
        let kp = KeyPair::generate().unwrap();
        let b = snow::Builder::new("Noise_IK_25519_ChaChaPoly_BLAKE2s".parse().unwrap());
        let snow_kp = b.generate_keypair().unwrap();
        let mine = KeyPair::from_private(PrivateKey::from_bytes(
            snow_kp.private.clone().try_into().unwrap(),
        ));
        assert_eq!(&mine.public.0[..], &snow_kp.public[..]);
        assert_ne!(kp.public, mine.public);
    }

    #[test]
    fn key_file_round_trip_and_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("technician.key");
        let kp = KeyPair::generate().unwrap();
        kp.save(&path).unwrap();
        assert_eq!(KeyPair::load(&path).unwrap(), kp);
        assert!(matches!(kp.save(&path), Err(KeyFileError::Exists { .. })));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = KeyPair::load(&path).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("chmod 600") && msg.contains("technician.key"),
                "{msg}"
            );
        }
    }

    #[test]
    fn key_file_format_errors() {
        let p = Path::new("k");
        let kp = KeyPair::generate().unwrap();
        let text = kp.to_file_text();
        assert_eq!(KeyPair::from_file_text(&text, p).unwrap(), kp);
        assert!(text.contains(&kp.public.to_string()));
        let other = KeyPair::generate().unwrap();
        let mixed = text.replace(&kp.public.to_string(), &other.public.to_string());
        assert!(matches!(
            KeyPair::from_file_text(&mixed, p),
            Err(KeyFileError::Format { .. })
        ));
        assert!(matches!(
            KeyPair::from_file_text("", p),
            Err(KeyFileError::Format { line: 0, .. })
        ));
        assert!(matches!(
            KeyPair::from_file_text("hello\n", p),
            Err(KeyFileError::Format { line: 1, .. })
        ));
        let mut typo = text.clone().into_bytes();
        let at = text.find(PRIVATE_KEY_TAG).unwrap() + PRIVATE_KEY_TAG.len() + 10;
        typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(KeyPair::from_file_text(&typo, p).is_err());
        assert!(format!("{kp:?}").starts_with("KeyPair(rmt1"));
        assert_eq!(format!("{:?}", kp.private), "PrivateKey(<secret>)");
    }
}
