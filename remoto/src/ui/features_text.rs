//! Texts of the panel's chat, file and privacy controls and of the
//! summary's extra rows, in both languages.

use super::strings::{IT, Strings};

impl Strings {
    fn it(&self) -> bool {
        std::ptr::eq(self, &IT)
    }

    /// Heading of the chat box.
    pub fn chat_title(&self) -> &'static str {
        "Chat" // the same word in both languages
    }

    /// `N new` after the chat heading.
    pub fn unread(&self, n: usize) -> String {
        if self.it() {
            format!("{n} nuovi")
        } else {
            format!("{n} new")
        }
    }

    /// Placeholder of the empty chat field.
    pub fn chat_placeholder(&self) -> &'static str {
        if self.it() {
            "Scrivi un messaggio e premi Invio"
        } else {
            "Type a message and press Enter"
        }
    }

    /// Chat "send" button.
    pub fn send(&self) -> &'static str {
        if self.it() { "Invia" } else { "Send" }
    }

    /// Who wrote a chat line.
    pub fn chat_from(&self, technician: bool) -> &'static str {
        match (self.it(), technician) {
            (true, true) => "tecnico",
            (true, false) => "tu",
            (false, true) => "technician",
            (false, false) => "you",
        }
    }

    /// Privacy button while sharing.
    pub fn pause_sharing(&self) -> &'static str {
        if self.it() {
            "Pausa schermo"
        } else {
            "Pause sharing"
        }
    }

    /// Privacy button while paused.
    pub fn resume_sharing(&self) -> &'static str {
        if self.it() {
            "Riprendi schermo"
        } else {
            "Resume sharing"
        }
    }

    /// The technician offers a file.
    pub fn file_offer(&self, name: &str, size: u64) -> String {
        if self.it() {
            format!(
                "Il tecnico ti invia {name} ({}). Accetta per scegliere dove salvarlo.",
                bytes(size)
            )
        } else {
            format!(
                "The technician sends you {name} ({}). Accept to choose where to save it.",
                bytes(size)
            )
        }
    }

    /// Accept a file.
    pub fn accept(&self) -> &'static str {
        if self.it() { "Accetta" } else { "Accept" }
    }

    /// Refuse a file.
    pub fn refuse(&self) -> &'static str {
        if self.it() { "Rifiuta" } else { "Refuse" }
    }

    /// Summary row label: when the session started.
    pub fn started(&self) -> &'static str {
        if self.it() { "Iniziata" } else { "Started" }
    }

    /// Summary row label: remote control.
    pub fn control_label(&self) -> &'static str {
        if self.it() { "Controllo" } else { "Control" }
    }

    /// Summary: control never granted / granted for `mm:ss`.
    pub fn control_value(&self, secs: Option<u64>) -> String {
        match (secs, self.it()) {
            (None, true) => "mai concesso (solo visione)".into(),
            (None, false) => "never granted (view only)".into(),
            (Some(s), true) => format!("concesso per {:02}:{:02}", s / 60, s % 60),
            (Some(s), false) => format!("granted for {:02}:{:02}", s / 60, s % 60),
        }
    }

    /// Summary row label: files.
    pub fn files_label(&self) -> &'static str {
        if self.it() { "File" } else { "Files" }
    }

    /// Summary: no file.
    pub fn no_files(&self) -> &'static str {
        if self.it() { "nessuno" } else { "none" }
    }

    /// Summary row label: chat.
    pub fn chat_label(&self) -> &'static str {
        "Chat" // the same word in both languages
    }

    /// Summary: `N messages`.
    pub fn chat_count(&self, n: usize) -> String {
        if self.it() {
            format!("{n} messaggi")
        } else {
            format!("{n} messages")
        }
    }
}

/// `1.2 MB`.
pub fn bytes(n: u64) -> String {
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in ["KB", "MB", "GB", "TB"] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}
