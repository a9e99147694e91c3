//! The customer's windows: the technician picker, the always-on-top session
//! panel and the final receipt.
//!
//! The UI is split in three layers so that most of it is testable without a
//! display:
//!
//! - [`model`]: pure state machines ([`UiModel`], [`PickerModel`],
//!   [`PanelModel`], [`ReceiptModel`]) fed with [`UiInput`] and
//!   [`SessionUpdate`], answering with [`UiAction`]s for the session;
//! - [`render`]: draws a model into a `&mut [u32]` pixel buffer (0x00RRGGBB)
//!   with our own tiny painter ([`draw`]) and the bundled DejaVu font, and
//!   returns the clickable regions;
//! - [`window`]: the winit + softbuffer event loop that maps window events to
//!   [`UiInput`] and presents the buffer;
//! - [`chooser`]: our own small file chooser (sans-IO model; the window layer
//!   reads the folders it asks for).
//!
//! # Driving the UI from the session glue
//!
//! The UI must run on the main thread; the session runs elsewhere (tokio):
//!
//! ```no_run
//! use remoto::ui::{self, PickerData, SessionUpdate, Ui, UiAction};
//! # fn data() -> PickerData { PickerData::sample(ui::Language::It) }
//! let ui = Ui::new(data()).expect("display");
//! let updates = ui.updates(); // Clone + Send: give it to the session
//! let (tx, rx) = std::sync::mpsc::channel::<UiAction>();
//! std::thread::spawn(move || {
//!     for action in rx {
//!         if let UiAction::Connect { .. } = action {
//!             updates.send(SessionUpdate::Connecting { endpoint: "verde.example.net:5500".into() });
//!         }
//!     }
//! });
//! ui.run(move |action| {
//!     let _ = tx.send(action);
//! })
//! .expect("ui");
//! ```

pub mod chooser;
pub mod draw;
mod features_text;
pub mod model;
pub mod render;
pub mod strings;
pub mod window;

pub use chooser::{ChooserMode, ChooserModel, ChooserOutcome, DirEntry, Listing, Places};
pub use features_text::bytes;
pub use model::{
    ButtonId, ChooserPurpose, DOUBLE_CLICK_MS, Key, MAX_CODE_DIGITS, MIN_CODE_DIGITS, PanelModel,
    PickerModel, PickerStatus, ReceiptModel, Screen, Target, UiInput, UiModel,
};
pub use window::{Ui, UiError, UpdateSender};

/// The language of every text in the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// Italian.
    #[default]
    It,
    /// English.
    En,
}

impl Language {
    /// The language for a profile code such as `"it"` or `"en-GB"`;
    /// anything that is not Italian is English.
    pub fn from_code(code: &str) -> Self {
        if code.trim().to_ascii_lowercase().starts_with("it") {
            Language::It
        } else {
            Language::En
        }
    }
}

/// One technician as the picker shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TechnicianEntry {
    /// The technician ID read over the phone ("Verde").
    pub id: String,
    /// An optional short description shown next to the ID.
    pub label: Option<String>,
    /// `true` for Crypto (Noise), `false` for Chiaro (plain RFB).
    pub encrypted: bool,
    /// The picker asks for a one-time session code before connecting.
    pub needs_code: bool,
}

/// Everything the picker shows, taken from the profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PickerData {
    /// The support team's name ("claro.it").
    pub brand_name: String,
    /// The window title ("Assistenza remota").
    pub title: String,
    /// The team's short message.
    pub message: String,
    /// Phone numbers shown at the bottom.
    pub phones: Vec<String>,
    /// Language of the UI.
    pub language: Language,
    /// The technicians, in profile order (`technician_index` refers to it).
    pub technicians: Vec<TechnicianEntry>,
}

impl PickerData {
    /// A fixed example list for demos, screenshots and tests; the program
    /// itself always shows the profile's list.
    pub fn sample(language: Language) -> Self {
        let tech = |id: &str, label: Option<&str>, encrypted, needs_code| TechnicianEntry {
            id: id.to_string(),
            label: label.map(str::to_string),
            encrypted,
            needs_code,
        };
        let (title, message, l1, l2, l3) = match language {
            Language::It => (
                "Assistenza remota",
                "Telefona a uno dei numeri qui sotto e chiedi il tuo tecnico.",
                "sede di Milano",
                "assistenza stampanti",
                "rete interna",
            ),
            Language::En => (
                "Remote assistance",
                "Call one of the numbers below and ask for your technician.",
                "Milan office",
                "printer support",
                "internal network",
            ),
        };
        PickerData {
            brand_name: "claro.it".into(),
            title: title.into(),
            message: message.into(),
            phones: vec!["+39 02 0000000".into(), "+39 06 0000000".into()],
            language,
            technicians: vec![
                tech("Verde", Some(l1), true, false),
                tech("Azzurro", Some(l2), true, true),
                tech("Viola", None, true, false),
                tech("CQ", Some(l3), false, false),
            ],
        }
    }

    /// The window title: "Remoto — <title>" (or the brand name without title).
    pub fn window_title(&self) -> String {
        let t = if self.title.trim().is_empty() {
            self.brand_name.trim()
        } else {
            self.title.trim()
        };
        if t.is_empty() {
            "Remoto".to_string()
        } else {
            format!("Remoto — {t}")
        }
    }
}

/// What the customer asked for; sent to the session glue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    /// Connect to `technicians[technician_index]` of the [`PickerData`],
    /// with the one-time session code when the entry needs one.
    Connect {
        /// Index into [`PickerData::technicians`].
        technician_index: usize,
        /// The digits typed by the customer (only for `needs_code` entries).
        session_code: Option<String>,
    },
    /// Grant (`true`) or revoke (`false`) the technician's control.
    AllowControl(bool),
    /// End everything: from the picker, the program exits (the UI returns
    /// from [`Ui::run`] right after); from the panel, the session must be
    /// closed and [`SessionUpdate::Ended`] sent back.
    Close,
    /// The customer pressed "Save log" on the receipt and chose this
    /// folder; answer with [`SessionUpdate::LogSaved`] or
    /// [`SessionUpdate::LogSaveFailed`].
    SaveLog(std::path::PathBuf),
    /// Send this chat line to the technician.
    SendChat(String),
    /// Pause (`true`) or resume (`false`) sharing the screen.
    PauseSharing(bool),
    /// Accept the technician's file `id` into the folder the customer
    /// chose, under the offered name.
    AcceptFile {
        /// Transfer id.
        id: u32,
        /// The chosen folder.
        dir: std::path::PathBuf,
        /// The customer confirmed replacing a file of that name.
        overwrite: bool,
    },
    /// Send this file (chosen in the panel) to the technician.
    SendFile(std::path::PathBuf),
    /// Refuse the technician's file `id`.
    RefuseFile(u32),
}

/// One chat line in the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// True when the technician wrote it.
    pub from_technician: bool,
    /// `HH:MM:SS`.
    pub time: String,
    /// The text.
    pub text: String,
}

/// What the end-of-session summary adds to the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryInfo {
    /// When the session started (as shown).
    pub started: String,
    /// Seconds of control, `None` when never granted.
    pub control_secs: Option<u64>,
    /// Chat lines both ways.
    pub chats: usize,
    /// One line per file (`name (size): outcome`).
    pub files: Vec<String>,
    /// Files from the technician the customer saved.
    pub saved_files: usize,
}

/// Why a session ended (shown on the receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The customer pressed Close.
    CustomerClosed,
    /// The technician ended the session.
    TechnicianClosed,
    /// The network failed; `detail` says how.
    ConnectionLost {
        /// Short text, e.g. "connection reset".
        detail: String,
    },
}

/// What happened in the session; sent by the session glue to the UI through
/// [`UpdateSender::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionUpdate {
    /// Attempting the technician's endpoints (`"host:port"`, or several
    /// joined with ", ").
    Connecting {
        /// What is being tried.
        endpoint: String,
    },
    /// The attempt failed; the picker shows the message and stays usable.
    Failed {
        /// Short reason, e.g. "connection refused at verde.example.net:5500".
        detail: String,
    },
    /// The technician refused the session.
    Refused {
        /// Optional reason from the technician.
        reason: Option<String>,
    },
    /// The session is running: the picker closes and the panel opens.
    Connected {
        /// The technician ID.
        technician: String,
        /// The short authentication code (Crypto only).
        sas: Option<String>,
        /// `true` for Crypto.
        encrypted: bool,
        /// `true` if the technician already has control (profile
        /// `control = "granted"`).
        control: bool,
    },
    /// The technician's control was granted or revoked.
    ControlChanged(bool),
    /// The session is over and the connection is closed: the receipt opens.
    Ended {
        /// Why it ended.
        reason: EndReason,
    },
    /// The log was saved to `path` (after [`UiAction::SaveLog`]).
    LogSaved {
        /// Where.
        path: String,
    },
    /// The log could not be saved.
    LogSaveFailed {
        /// Why.
        detail: String,
    },
    /// A chat line (either way) for the panel.
    Chat(ChatLine),
    /// The technician offers a file.
    FileOffered {
        /// Transfer id.
        id: u32,
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
    },
    /// A transfer's progress or outcome, one line for the panel.
    FileStatus {
        /// Transfer id.
        id: u32,
        /// E.g. `report.pdf: 45%` or `report.pdf: done`.
        text: String,
    },
    /// Sharing is paused (`true`) or running.
    SharingPaused(bool),
    /// The summary of the session that just ended (sent before `Ended`).
    Summary(SummaryInfo),
}
