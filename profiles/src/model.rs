//! The typed profile: what a validated TOML profile says.

use crate::endpoint::Endpoint;
use crypto::PublicKey;
use time::Date;

/// A validated profile: the support team's brand, session policy, network
/// settings and technician list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// What the picker window shows.
    pub brand: Brand,
    /// Consent and information-sharing policy.
    pub session: Session,
    /// How Remoto reaches the technicians.
    pub network: Network,
    /// The technicians, in file order (never empty).
    pub technicians: Vec<Technician>,
}

impl Profile {
    /// `true` if the profile has an expiry date and `today` is after it.
    /// The expiry date itself is still a valid day.
    pub fn is_expired(&self, today: Date) -> bool {
        self.brand.expires.is_some_and(|e| today > e)
    }

    /// The technician with this ID (compared ignoring case).
    pub fn technician(&self, id: &str) -> Option<&Technician> {
        let id = id.to_lowercase();
        self.technicians.iter().find(|t| t.id.to_lowercase() == id)
    }
}

/// The `[brand]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// The team's name, e.g. `claro.it`.
    pub name: String,
    /// The window title (defaults to the language's "Remote assistance").
    pub title: String,
    /// A short message for the customer (may be empty).
    pub message: String,
    /// Phone numbers to call (may be empty).
    pub phones: Vec<String>,
    /// The language of the user interface.
    pub language: Language,
    /// After this date Remoto refuses to run.
    pub expires: Option<Date>,
}

/// The language of Remoto's user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    /// Italian (`it`).
    It,
    /// English (`en`), the default.
    #[default]
    En,
}

impl Language {
    /// The code used in profiles: `it` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Language::It => "it",
            Language::En => "en",
        }
    }

    /// The default window title in this language.
    pub fn default_title(self) -> &'static str {
        match self {
            Language::It => "Assistenza remota",
            Language::En => "Remote assistance",
        }
    }
}

/// The `[session]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whether the technician may control mouse and keyboard.
    pub control: Control,
    /// What Remoto tells the technician about the customer's computer
    /// (shown to the customer before connecting), without duplicates.
    pub share_system_info: Vec<SystemInfo>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            control: Control::Ask,
            share_system_info: vec![SystemInfo::Os, SystemInfo::Screen],
        }
    }
}

/// `session.control`: who decides about remote control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Control {
    /// View-only until the customer allows control (`ask`, the default).
    #[default]
    Ask,
    /// Control is allowed from the start; the customer can still revoke it (`granted`).
    Granted,
    /// Never control, only view (`view-only`).
    ViewOnly,
}

impl Control {
    /// The word used in profiles.
    pub fn code(self) -> &'static str {
        match self {
            Control::Ask => "ask",
            Control::Granted => "granted",
            Control::ViewOnly => "view-only",
        }
    }
}

/// One item of `session.share_system_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemInfo {
    /// Operating system name and version (`os`).
    Os,
    /// Computer name (`hostname`).
    Hostname,
    /// Logged-in user name (`username`).
    Username,
    /// Screen size (`screen`).
    Screen,
    /// Processor model (`cpu`).
    Cpu,
    /// Installed memory (`memory`).
    Memory,
    /// Local IP addresses (`network`).
    Network,
}

impl SystemInfo {
    /// Every item, in the order of the vocabulary.
    pub const ALL: [SystemInfo; 7] = [
        SystemInfo::Os,
        SystemInfo::Hostname,
        SystemInfo::Username,
        SystemInfo::Screen,
        SystemInfo::Cpu,
        SystemInfo::Memory,
        SystemInfo::Network,
    ];

    /// The word used in profiles.
    pub fn code(self) -> &'static str {
        match self {
            SystemInfo::Os => "os",
            SystemInfo::Hostname => "hostname",
            SystemInfo::Username => "username",
            SystemInfo::Screen => "screen",
            SystemInfo::Cpu => "cpu",
            SystemInfo::Memory => "memory",
            SystemInfo::Network => "network",
        }
    }
}

/// The `[network]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    /// An HTTP proxy to tunnel through with `CONNECT`, if any.
    pub proxy: Option<Endpoint>,
}

/// One `[[technician]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technician {
    /// The ID the customer double-clicks (unique ignoring case).
    pub id: String,
    /// A short description shown beside the ID.
    pub label: Option<String>,
    /// Where the technician's viewer listens; tried at once (never empty).
    pub endpoints: Vec<Endpoint>,
    /// Encrypted (with the pinned key) or clear.
    pub security: Security,
    /// Whether the customer must type a one-time session code.
    pub session_code: SessionCodePolicy,
    /// A note for the team; never shown to the customer.
    pub note: Option<String>,
}

impl Technician {
    /// `true` for `mode = "crypto"`.
    pub fn is_crypto(&self) -> bool {
        matches!(self.security, Security::Crypto { .. })
    }

    /// The pinned public key, for crypto entries.
    pub fn public_key(&self) -> Option<&PublicKey> {
        match &self.security {
            Security::Crypto { public_key } => Some(public_key),
            Security::Clear => None,
        }
    }
}

/// `mode` and `public_key` together: a crypto entry always has its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// Noise IK to this pinned technician key (`mode = "crypto"`).
    Crypto {
        /// The technician's static public key.
        public_key: PublicKey,
    },
    /// Plain RFB, unencrypted (`mode = "clear"`).
    Clear,
}

/// `session_code`: whether a one-time code is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionCodePolicy {
    /// No code (`off`, the default).
    #[default]
    Off,
    /// The customer types the code the technician reads out (`required`; crypto only).
    Required,
}
