//! The hellos carried as Noise handshake payloads.
//!
//! Both are JSON objects (serde), at most [`MAX_HELLO`] bytes, with a format
//! version `v`. Unknown fields are ignored (a newer peer may add optional
//! ones); a different `v` is refused. Text fields are bounded and may not
//! hold control characters, since they end up on screens and in logs.

use serde::{Deserialize, Serialize};

/// Hello format version.
pub const HELLO_VERSION: u16 = 1;
/// Largest encoded hello, in bytes.
pub const MAX_HELLO: usize = 4096;
/// Longest short text field (names, versions, OS), in bytes.
pub const MAX_FIELD: usize = 128;
/// Longest refusal reason, in bytes.
pub const MAX_REASON: usize = 512;

/// Why a hello was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// Larger than [`MAX_HELLO`].
    #[error("hello is {0} bytes, at most {MAX_HELLO} allowed")]
    TooLarge(usize),
    /// Not the expected JSON.
    #[error("malformed hello: {0}")]
    Malformed(String),
    /// Another hello version.
    #[error("hello version {0} is not supported (this program speaks {HELLO_VERSION})")]
    Version(u16),
    /// A text field too long or with control characters.
    #[error("hello field {field} is too long or has control characters")]
    Field {
        /// Field name.
        field: &'static str,
    },
}

fn check(field: &'static str, s: &str, max: usize) -> Result<(), HelloError> {
    if s.len() > max || s.chars().any(char::is_control) {
        return Err(HelloError::Field { field });
    }
    Ok(())
}

fn check_opt(field: &'static str, s: &Option<String>, max: usize) -> Result<(), HelloError> {
    s.as_deref().map_or(Ok(()), |s| check(field, s, max))
}

/// Most entries in a list field (monitors, network interfaces).
pub const MAX_LIST: usize = 16;

fn check_list(field: &'static str, l: &Option<Vec<String>>) -> Result<(), HelloError> {
    match l {
        Some(l) if l.len() > MAX_LIST => Err(HelloError::Field { field }),
        Some(l) => l.iter().try_for_each(|s| check(field, s, MAX_FIELD)),
        None => Ok(()),
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, HelloError> {
    let b = serde_json::to_vec(v).map_err(|e| HelloError::Malformed(e.to_string()))?;
    if b.len() > MAX_HELLO {
        return Err(HelloError::TooLarge(b.len()));
    }
    Ok(b)
}

fn decode<T: for<'a> Deserialize<'a>>(b: &[u8]) -> Result<T, HelloError> {
    if b.len() > MAX_HELLO {
        return Err(HelloError::TooLarge(b.len()));
    }
    serde_json::from_slice(b).map_err(|e| HelloError::Malformed(e.to_string()))
}

/// A screen size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenSize {
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
}

/// What the customer's Remoto tells the technician in message 1: only what
/// the customer was told is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerHello {
    /// Format version ([`HELLO_VERSION`]).
    pub v: u16,
    /// Remoto's version, e.g. `0.1.0`.
    pub program_version: String,
    /// Operating system, e.g. `linux` or `windows 11`.
    pub os: String,
    /// Screen size, if shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<ScreenSize>,
    /// Computer name, if the profile shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<String>,
    /// User name, if the profile shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Monitors (e.g. `1920x1080+0+0`), if the profile shares the screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitors: Option<Vec<String>>,
    /// Processor model and count, if the profile shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Installed memory (e.g. `15.6 GiB`), if the profile shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Network interfaces and their addresses (e.g. `eth0 192.0.2.7/24`),
    /// if the profile shares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Vec<String>>,
}

impl CustomerHello {
    /// A hello with only the program version and OS.
    pub fn new(program_version: &str, os: &str) -> Self {
        CustomerHello {
            v: HELLO_VERSION,
            program_version: program_version.into(),
            os: os.into(),
            screen: None,
            computer_name: None,
            user_name: None,
            monitors: None,
            cpu: None,
            memory: None,
            network: None,
        }
    }

    /// Checks version and field limits.
    pub fn validate(&self) -> Result<(), HelloError> {
        if self.v != HELLO_VERSION {
            return Err(HelloError::Version(self.v));
        }
        check("program_version", &self.program_version, MAX_FIELD)?;
        check("os", &self.os, MAX_FIELD)?;
        check_opt("computer_name", &self.computer_name, MAX_FIELD)?;
        check_opt("user_name", &self.user_name, MAX_FIELD)?;
        check_opt("cpu", &self.cpu, MAX_FIELD)?;
        check_opt("memory", &self.memory, MAX_FIELD)?;
        check_list("monitors", &self.monitors)?;
        check_list("network", &self.network)
    }

    /// The shared system information as `(field, text)` pairs, in a fixed
    /// order: what the customer is shown before connecting and what the
    /// technician's viewer displays. Only fields present in the hello appear.
    pub fn shared_fields(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if !self.os.is_empty() {
            v.push(("os", self.os.clone()));
        }
        if let Some(n) = &self.computer_name {
            v.push(("computer_name", n.clone()));
        }
        if let Some(u) = &self.user_name {
            v.push(("user_name", u.clone()));
        }
        if let Some(s) = self.screen {
            v.push(("screen", format!("{}x{}", s.width, s.height)));
        }
        if let Some(m) = &self.monitors {
            v.push(("monitors", m.join(", ")));
        }
        if let Some(c) = &self.cpu {
            v.push(("cpu", c.clone()));
        }
        if let Some(m) = &self.memory {
            v.push(("memory", m.clone()));
        }
        if let Some(n) = &self.network {
            v.push(("network", n.join(", ")));
        }
        v
    }

    /// The handshake payload.
    pub fn to_payload(&self) -> Result<Vec<u8>, HelloError> {
        self.validate()?;
        encode(self)
    }

    /// Parses and validates a handshake payload.
    pub fn from_payload(b: &[u8]) -> Result<Self, HelloError> {
        let h: Self = decode(b)?;
        h.validate()?;
        Ok(h)
    }
}

/// The technician's decision carried in message 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The session may start at once.
    Accepted,
    /// The technician still has to look at the SAS and hello; a control
    /// message `Accept` or `Refuse` follows.
    Pending,
    /// Refused; the connection closes.
    Refused {
        /// Shown to the customer.
        reason: String,
    },
}

/// What the technician's viewer answers in message 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TechnicianHello {
    /// Format version ([`HELLO_VERSION`]).
    pub v: u16,
    /// The technician's id (as in the profile).
    pub technician_id: String,
    /// A display name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Accepted, pending or refused.
    pub decision: Decision,
}

impl TechnicianHello {
    /// A hello with the given id and decision.
    pub fn new(technician_id: &str, decision: Decision) -> Self {
        TechnicianHello {
            v: HELLO_VERSION,
            technician_id: technician_id.into(),
            name: None,
            decision,
        }
    }

    /// Checks version and field limits.
    pub fn validate(&self) -> Result<(), HelloError> {
        if self.v != HELLO_VERSION {
            return Err(HelloError::Version(self.v));
        }
        check("technician_id", &self.technician_id, MAX_FIELD)?;
        check_opt("name", &self.name, MAX_FIELD)?;
        if let Decision::Refused { reason } = &self.decision {
            check("reason", reason, MAX_REASON)?;
        }
        Ok(())
    }

    /// The handshake payload.
    pub fn to_payload(&self) -> Result<Vec<u8>, HelloError> {
        self.validate()?;
        encode(self)
    }

    /// Parses and validates a handshake payload.
    pub fn from_payload(b: &[u8]) -> Result<Self, HelloError> {
        let h: Self = decode(b)?;
        h.validate()?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let mut c = CustomerHello::new("0.1.0", "linux");
        c.screen = Some(ScreenSize {
            width: 1280,
            height: 800,
        });
        c.user_name = Some("anna".into());
        let p = c.to_payload().unwrap();
        assert_eq!(CustomerHello::from_payload(&p).unwrap(), c);
        // Unknown fields are ignored, other versions refused.
        let extra = br#"{"v":1,"program_version":"9","os":"x","future":true}"#;
        assert!(CustomerHello::from_payload(extra).is_ok());
        let v2 = br#"{"v":2,"program_version":"9","os":"x"}"#;
        assert_eq!(CustomerHello::from_payload(v2), Err(HelloError::Version(2)));
        assert!(matches!(
            CustomerHello::from_payload(b"\xff{"),
            Err(HelloError::Malformed(_))
        ));
        assert!(matches!(
            CustomerHello::from_payload(&[b' '; 5000]),
            Err(HelloError::TooLarge(5000))
        ));
        c.network = Some(vec!["eth0 192.0.2.7/24".into()]);
        c.cpu = Some("4 x Test CPU".into());
        let p = c.to_payload().unwrap();
        assert_eq!(CustomerHello::from_payload(&p).unwrap(), c);
        let fields: Vec<_> = c.shared_fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(fields, ["os", "user_name", "screen", "cpu", "network"]);
        c.network = Some(vec!["x".into(); MAX_LIST + 1]);
        assert!(c.to_payload().is_err());
        c.network = None;
        c.computer_name = Some("a\u{1b}[31m".into());
        assert!(c.to_payload().is_err());
        let t = TechnicianHello::new(
            "Verde",
            Decision::Refused {
                reason: "busy".into(),
            },
        );
        assert_eq!(
            TechnicianHello::from_payload(&t.to_payload().unwrap()).unwrap(),
            t
        );
        let long = TechnicianHello::new(&"x".repeat(200), Decision::Pending);
        assert!(long.to_payload().is_err());
    }
}
