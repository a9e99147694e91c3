//! Every text the customer reads, in Italian and English.
//!
//! Fixed texts are fields of [`Strings`]; texts with values in them are
//! methods, so that word order can differ between languages.

use super::Language;

/// The texts of one language.
#[derive(Debug)]
pub struct Strings {
    /// Heading above the technician list.
    pub technicians: &'static str,
    /// Badge of an encrypted technician.
    pub crypto: &'static str,
    /// Badge of a clear (unencrypted) technician.
    pub clear: &'static str,
    /// Warning next to the clear badge.
    pub not_encrypted_paren: &'static str,
    /// Small mark under a technician that asks for a one-time code.
    pub code_required: &'static str,
    /// Hint shown in the picker when idle.
    pub picker_hint: &'static str,
    /// Shown when the profile lists no technician.
    pub no_technicians: &'static str,
    /// The picker's connect button.
    pub connect: &'static str,
    /// Cancel button of the code prompt.
    pub cancel: &'static str,
    /// Label before the phone numbers.
    pub phones: &'static str,
    /// Panel heading.
    pub session_active: &'static str,
    /// Label over the short authentication code.
    pub verification_code: &'static str,
    /// Hint under the short authentication code.
    pub sas_hint: &'static str,
    /// Big warning in clear mode.
    pub not_encrypted_banner: &'static str,
    /// Explanation under the clear-mode warning.
    pub not_encrypted_hint: &'static str,
    /// Label before the elapsed time.
    pub elapsed: &'static str,
    /// Control state: view only.
    pub view_only: &'static str,
    /// Control state: the technician controls the PC.
    pub in_control: &'static str,
    /// Button that grants control.
    pub allow_control: &'static str,
    /// Button that revokes control.
    pub stop_control: &'static str,
    /// The panel's close button.
    pub close: &'static str,
    /// The panel's close button once pressed.
    pub closing: &'static str,
    /// Receipt heading.
    pub session_ended: &'static str,
    /// Receipt label before the technician.
    pub technician: &'static str,
    /// Receipt label before the duration.
    pub duration: &'static str,
    /// Receipt label before the channel kind.
    pub channel: &'static str,
    /// Receipt channel value: encrypted.
    pub channel_encrypted: &'static str,
    /// Receipt channel value: not encrypted.
    pub channel_clear: &'static str,
    /// Receipt label before the reason the session ended.
    pub ended_by: &'static str,
    /// Reason: the customer pressed Close.
    pub ended_by_customer: &'static str,
    /// Reason: the technician ended the session.
    pub ended_by_technician: &'static str,
    /// The final promise of the receipt.
    pub closed_statement: &'static str,
    /// The final promise once the customer saved the log.
    pub closed_statement_saved: &'static str,
    /// The final promise when the customer saved files the technician sent.
    pub closed_statement_files: &'static str,
    /// The final promise when the customer saved files and the log.
    pub closed_statement_files_saved: &'static str,
    /// Receipt button that saves the session log.
    pub save_log: &'static str,
    /// Receipt text while the log is being saved.
    pub saving_log: &'static str,
    /// Receipt button that ends the program.
    pub exit: &'static str,
    /// Placeholder inside the empty code field.
    pub code_placeholder: &'static str,
}

/// Italian texts.
pub static IT: Strings = Strings {
    technicians: "Tecnici",
    crypto: "Crypto",
    clear: "Chiaro",
    not_encrypted_paren: "(non cifrato)",
    code_required: "richiede un codice di sessione",
    picker_hint: "Fai doppio clic sul tecnico che ti è stato indicato al telefono.",
    no_technicians: "Nessun tecnico è configurato in questo Remoto.",
    connect: "Collegati",
    cancel: "Annulla",
    phones: "Telefono",
    session_active: "Sessione di assistenza attiva",
    verification_code: "Codice di verifica",
    sas_hint: "Deve essere uguale a quello che legge il tecnico.",
    not_encrypted_banner: "NON CIFRATO",
    not_encrypted_hint: "La connessione non è protetta da cifratura.",
    elapsed: "Durata",
    view_only: "Il tecnico può solo guardare lo schermo.",
    in_control: "Il tecnico controlla mouse e tastiera.",
    allow_control: "Consenti controllo",
    stop_control: "Togli controllo",
    close: "Chiudi",
    closing: "Chiusura…",
    session_ended: "Sessione terminata",
    technician: "Tecnico",
    duration: "Durata",
    channel: "Connessione",
    channel_encrypted: "cifrata (Crypto)",
    channel_clear: "non cifrata (Chiaro)",
    ended_by: "Chiusa da",
    ended_by_customer: "te (Chiudi)",
    ended_by_technician: "il tecnico",
    closed_statement: "Remoto è chiuso: nessuna connessione è aperta, non è stato installato né scritto nulla.",
    closed_statement_saved: "Remoto è chiuso: nessuna connessione è aperta, non è stato installato nulla; l'unico file scritto è il registro che hai salvato.",
    closed_statement_files: "Remoto è chiuso: nessuna connessione è aperta, non è stato installato nulla; sono stati scritti solo i file che hai scelto di salvare.",
    closed_statement_files_saved: "Remoto è chiuso: nessuna connessione è aperta, non è stato installato nulla; sono stati scritti solo i file che hai scelto di salvare e il registro.",
    save_log: "Salva registro",
    saving_log: "Salvataggio del registro…",
    exit: "Esci",
    code_placeholder: "cifre",
};

/// English texts.
pub static EN: Strings = Strings {
    technicians: "Technicians",
    crypto: "Crypto",
    clear: "Clear",
    not_encrypted_paren: "(not encrypted)",
    code_required: "asks for a session code",
    picker_hint: "Double-click the technician you were told on the phone.",
    no_technicians: "No technician is configured in this Remoto.",
    connect: "Connect",
    cancel: "Cancel",
    phones: "Phone",
    session_active: "Remote assistance session",
    verification_code: "Verification code",
    sas_hint: "It must match the one the technician reads to you.",
    not_encrypted_banner: "NOT ENCRYPTED",
    not_encrypted_hint: "The connection is not protected by encryption.",
    elapsed: "Elapsed",
    view_only: "The technician can only watch the screen.",
    in_control: "The technician controls mouse and keyboard.",
    allow_control: "Allow control",
    stop_control: "Stop control",
    close: "Close",
    closing: "Closing…",
    session_ended: "Session ended",
    technician: "Technician",
    duration: "Duration",
    channel: "Connection",
    channel_encrypted: "encrypted (Crypto)",
    channel_clear: "not encrypted (Clear)",
    ended_by: "Ended by",
    ended_by_customer: "you (Close)",
    ended_by_technician: "the technician",
    closed_statement: "Remoto is closed: no connection is open, nothing was installed or written.",
    closed_statement_saved: "Remoto is closed: no connection is open, nothing was installed; the only file written is the log you saved.",
    closed_statement_files: "Remoto is closed: no connection is open, nothing was installed; the only files written are the ones you chose to save.",
    closed_statement_files_saved: "Remoto is closed: no connection is open, nothing was installed; the only files written are the ones you chose to save and the log.",
    save_log: "Save log",
    saving_log: "Saving the log…",
    exit: "Exit",
    code_placeholder: "digits",
};

impl Strings {
    /// The texts of `language`.
    pub fn get(language: Language) -> &'static Strings {
        match language {
            Language::It => &IT,
            Language::En => &EN,
        }
    }

    fn is_it(&self) -> bool {
        std::ptr::eq(self, &IT)
    }

    /// "connecting to Verde… (trying host:port)".
    pub fn connecting(&self, technician: &str, endpoint: Option<&str>) -> String {
        match (self.is_it(), endpoint) {
            (true, Some(e)) => format!("Connessione a {technician}… (provo {e})"),
            (true, None) => format!("Connessione a {technician}…"),
            (false, Some(e)) => format!("Connecting to {technician}… (trying {e})"),
            (false, None) => format!("Connecting to {technician}…"),
        }
    }

    /// "Technician Verde cannot be reached (detail). Call +39 …".
    pub fn unreachable(&self, technician: &str, detail: &str, phone: Option<&str>) -> String {
        let mut s = if self.is_it() {
            format!("Il tecnico {technician} non è raggiungibile ({detail}).")
        } else {
            format!("Technician {technician} cannot be reached ({detail}).")
        };
        if let Some(p) = phone {
            s.push_str(if self.is_it() { " Chiama " } else { " Call " });
            s.push_str(&p.replace(' ', "\u{a0}"));
            s.push('.');
        }
        s
    }

    /// "Technician Verde refused the session (reason)".
    pub fn refused(&self, technician: &str, reason: Option<&str>, phone: Option<&str>) -> String {
        let mut s = match (self.is_it(), reason) {
            (true, Some(r)) => format!("Il tecnico {technician} ha rifiutato la sessione ({r})."),
            (true, None) => format!("Il tecnico {technician} ha rifiutato la sessione."),
            (false, Some(r)) => format!("Technician {technician} refused the session ({r})."),
            (false, None) => format!("Technician {technician} refused the session."),
        };
        if let Some(p) = phone {
            s.push_str(if self.is_it() { " Chiama " } else { " Call " });
            s.push_str(&p.replace(' ', "\u{a0}"));
            s.push('.');
        }
        s
    }

    /// "The session with Verde ended: detail" (shown in the picker when a
    /// session ends before it was shown as connected).
    pub fn ended_early(&self, technician: &str, detail: &str) -> String {
        if self.is_it() {
            format!("La sessione con {technician} si è chiusa: {detail}.")
        } else {
            format!("The session with {technician} ended: {detail}.")
        }
    }

    /// The prompt for a one-time session code.
    pub fn code_prompt(&self, technician: &str) -> String {
        if self.is_it() {
            format!("{technician} richiede un codice di sessione: scrivi le cifre che ti detta.")
        } else {
            format!("{technician} asks for a session code: type the digits you are told.")
        }
    }

    /// Hint when the code is too short.
    pub fn code_too_short(&self, min: usize) -> String {
        if self.is_it() {
            format!("Il codice ha almeno {min} cifre.")
        } else {
            format!("The code has at least {min} digits.")
        }
    }

    /// "Session with Verde" (panel window title and heading).
    pub fn session_with(&self, technician: &str) -> String {
        if self.is_it() {
            format!("Tecnico {technician}")
        } else {
            format!("Technician {technician}")
        }
    }

    /// Reason "connection lost (detail)".
    pub fn connection_lost(&self, detail: &str) -> String {
        if self.is_it() {
            format!("connessione persa ({detail})")
        } else {
            format!("connection lost ({detail})")
        }
    }

    /// "Log saved to PATH".
    pub fn log_saved(&self, path: &str) -> String {
        if self.is_it() {
            format!("Registro salvato in {path}.")
        } else {
            format!("Log saved to {path}.")
        }
    }

    /// "Could not save the log: detail".
    pub fn log_save_failed(&self, detail: &str) -> String {
        if self.is_it() {
            format!("Impossibile salvare il registro: {detail}.")
        } else {
            format!("Could not save the log: {detail}.")
        }
    }
}

/// The file chooser's texts.
impl Strings {
    /// Heading of the chooser opened by "Send file…".
    pub fn chooser_send_title(&self) -> &'static str {
        if self.is_it() {
            "Scegli il file da inviare al tecnico"
        } else {
            "Choose a file to send to the technician"
        }
    }

    /// Heading of the chooser of an accepted file.
    pub fn chooser_save_title(&self, name: &str) -> String {
        if self.is_it() {
            format!("Dove salvare {name}?")
        } else {
            format!("Where to save {name}?")
        }
    }

    /// Heading of the chooser of "Save log".
    pub fn chooser_log_title(&self) -> &'static str {
        if self.is_it() {
            "Dove salvare il registro?"
        } else {
            "Where to save the log?"
        }
    }

    /// Choose button when sending a file.
    pub fn chooser_send(&self) -> &'static str {
        if self.is_it() { "Invia" } else { "Send" }
    }

    /// Choose button when saving into a folder.
    pub fn chooser_save_here(&self) -> &'static str {
        if self.is_it() {
            "Salva qui"
        } else {
            "Save here"
        }
    }

    /// The panel's button that opens the chooser.
    pub fn send_file(&self) -> &'static str {
        if self.is_it() {
            "Invia file…"
        } else {
            "Send file…"
        }
    }

    /// The Choose button while a folder is selected.
    pub fn open(&self) -> &'static str {
        if self.is_it() { "Apri" } else { "Open" }
    }

    /// The parent-folder button.
    pub fn up(&self) -> &'static str {
        if self.is_it() { "Su" } else { "Up" }
    }

    /// A shortcut's label.
    pub fn place(&self, place: super::chooser::Place) -> &'static str {
        use super::chooser::Place;
        match (place, self.is_it()) {
            (Place::Home, _) => "Home",
            (Place::Desktop, true) => "Scrivania",
            (Place::Desktop, false) => "Desktop",
            (Place::Downloads, true) => "Scaricati",
            (Place::Downloads, false) => "Downloads",
            (Place::Documents, true) => "Documenti",
            (Place::Documents, false) => "Documents",
        }
    }

    /// Placeholder of the empty filter / path field.
    pub fn chooser_placeholder(&self) -> &'static str {
        if self.is_it() {
            "Scrivi per filtrare, o un percorso e Invio"
        } else {
            "Type to filter, or a path and Enter"
        }
    }

    /// An empty list: nothing matches the filter, no subfolder (choosing
    /// a folder), or an empty folder.
    pub fn chooser_empty(&self, filtered: bool, folders_only: bool) -> &'static str {
        match (self.is_it(), filtered, folders_only) {
            (true, true, _) => "Nessun nome corrisponde.",
            (true, false, true) => "Nessuna sottocartella: puoi salvare qui.",
            (true, false, false) => "La cartella è vuota.",
            (false, true, _) => "No name matches.",
            (false, false, true) => "No subfolder: you can save here.",
            (false, false, false) => "This folder is empty.",
        }
    }

    /// An unreadable folder.
    pub fn chooser_error(&self, detail: &str) -> String {
        if self.is_it() {
            format!("Impossibile aprire questa cartella: {detail}.")
        } else {
            format!("Cannot open this folder: {detail}.")
        }
    }

    /// More entries than the chooser keeps.
    pub fn chooser_truncated(&self, shown: usize) -> String {
        if self.is_it() {
            format!("Sono mostrati solo i primi {shown} nomi: scrivi per filtrare.")
        } else {
            format!("Only the first {shown} names are shown: type to filter.")
        }
    }

    /// The "Replace?" question.
    pub fn replace_prompt(&self, name: &str) -> String {
        if self.is_it() {
            format!("{name} esiste già in questa cartella. Sostituirlo?")
        } else {
            format!("{name} already exists in this folder. Replace it?")
        }
    }

    /// Replace button.
    pub fn replace(&self) -> &'static str {
        if self.is_it() {
            "Sostituisci"
        } else {
            "Replace"
        }
    }

    /// Do-not-replace button.
    pub fn dont_replace(&self) -> &'static str {
        if self.is_it() {
            "No, scegli ancora"
        } else {
            "No, choose again"
        }
    }
}

/// Formats seconds as `mm:ss`, or `h:mm:ss` from one hour on.
pub fn format_elapsed(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Groups a short authentication code for reading aloud: `123456` → `123 456`.
///
/// Codes that already contain spaces, or are not all digits, are returned as
/// they are.
pub fn format_sas(sas: &str) -> String {
    if sas.len() == 6 && sas.bytes().all(|b| b.is_ascii_digit()) {
        format!("{} {}", &sas[..3], &sas[3..])
    } else {
        sas.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_and_sas_formats() {
        assert_eq!(format_elapsed(0), "00:00");
        assert_eq!(format_elapsed(207), "03:27");
        assert_eq!(format_elapsed(3600 + 62), "1:01:02");
        assert_eq!(format_sas("123456"), "123 456");
        assert_eq!(format_sas("apple tiger"), "apple tiger");
    }

    #[test]
    fn messages_in_both_languages() {
        let it = Strings::get(Language::It);
        let en = Strings::get(Language::En);
        assert_eq!(
            it.connecting("Verde", Some("verde.example.net:5500")),
            "Connessione a Verde… (provo verde.example.net:5500)"
        );
        assert!(
            it.unreachable("Verde", "connessione rifiutata", Some("+39 02 0000000"))
                .ends_with("Chiama +39\u{a0}02\u{a0}0000000.")
        );
        assert!(
            en.unreachable("Verde", "refused", None)
                .starts_with("Technician Verde")
        );
        assert_eq!(it.clear, "Chiaro");
        assert_eq!(en.not_encrypted_banner, "NOT ENCRYPTED");
    }
}
