//! Remoto's own small file chooser (no GTK, no portal): "open a file" and
//! "choose a folder", shown inside the panel or receipt window.
//!
//! [`ChooserModel`] is sans-IO: it asks for a folder's content with
//! [`ChooserModel::take_request`] and the glue answers with
//! [`ChooserModel::set_listing`] (see [`list_dir`], the only function here
//! that reads the disk, with [`Places::detect`]). Folders come first, names
//! are sorted case-insensitively, hidden entries (`.name`) are not shown.

use std::path::{Component, Path, PathBuf};

use super::model::{ButtonId, DOUBLE_CLICK_MS, Key, Target, UiInput};

/// Rows the list shows at once (more scroll).
pub const CHOOSER_ROWS: usize = 10;
/// Most entries of one folder the chooser keeps (the rest are not shown).
pub const MAX_ENTRIES: usize = 10_000;
/// Longest text typed in the filter / path field, in characters.
pub const MAX_TYPED: usize = 1024;

/// What the chooser picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChooserMode {
    /// An existing file (to send).
    OpenFile,
    /// A folder (to save into); only folders are listed.
    ChooseFolder,
}

/// One entry of a folder, as the glue read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (no path).
    pub name: String,
    /// A folder (or a link to one).
    pub is_dir: bool,
    /// Size in bytes (files).
    pub size: u64,
}

/// What the glue found at a requested path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// A readable folder and its entries (any order, hidden ones included).
    Dir(Vec<DirEntry>),
    /// A file, not a folder.
    File,
    /// Unreadable or missing: the message is shown.
    Error(String),
}

/// The shortcut places the chooser offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The home folder.
    Home,
    /// Desktop (Scrivania).
    Desktop,
    /// Downloads (Scaricati).
    Downloads,
    /// Documents (Documenti).
    Documents,
}

/// Where the customer's usual folders are (those that exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// Home.
    pub home: Option<PathBuf>,
    /// Desktop.
    pub desktop: Option<PathBuf>,
    /// Downloads.
    pub downloads: Option<PathBuf>,
    /// Documents.
    pub documents: Option<PathBuf>,
}

impl Places {
    /// Looks for the folders on disk: `$HOME` (or `%USERPROFILE%`), the
    /// XDG user dirs when configured, else `Desktop`/`Scrivania`,
    /// `Downloads`/`Scaricati`/`Download`, `Documents`/`Documenti`.
    pub fn detect() -> Places {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .filter(|h| h.is_dir());
        let Some(home) = home else {
            return Places::default();
        };
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"))
            .join("user-dirs.dirs");
        let xdg = std::fs::read_to_string(xdg).unwrap_or_default();
        let find = |key: &str, names: &[&str]| {
            user_dir(&xdg, key, &home)
                .into_iter()
                .chain(names.iter().map(|n| home.join(n)))
                .find(|p| p != &home && p.is_dir())
        };
        Places {
            desktop: find("XDG_DESKTOP_DIR", &["Desktop", "Scrivania"]),
            downloads: find("XDG_DOWNLOAD_DIR", &["Downloads", "Scaricati", "Download"]),
            documents: find("XDG_DOCUMENTS_DIR", &["Documents", "Documenti"]),
            home: Some(home),
        }
    }

    /// The shortcuts shown, in order: Home, Desktop, Downloads.
    pub fn shortcuts(&self) -> Vec<(Place, PathBuf)> {
        [
            (Place::Home, &self.home),
            (Place::Desktop, &self.desktop),
            (Place::Downloads, &self.downloads),
        ]
        .into_iter()
        .filter_map(|(k, p)| p.clone().map(|p| (k, p)))
        .collect()
    }
}

/// `KEY="$HOME/x"` from a `user-dirs.dirs` text.
fn user_dir(text: &str, key: &str, home: &Path) -> Option<PathBuf> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key) && l.contains('='))?;
    let value = line.split_once('=')?.1.trim().trim_matches('"');
    let p = match value.strip_prefix("$HOME") {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(value),
    };
    p.is_absolute().then_some(p)
}

/// Reads `path` for the chooser (the glue's side: this touches the disk).
/// At most [`MAX_ENTRIES`] entries are read.
pub fn list_dir(path: &Path) -> Listing {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Listing::Error(e.to_string()),
    };
    if !meta.is_dir() {
        return Listing::File;
    }
    let rd = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) => return Listing::Error(e.to_string()),
    };
    let mut out = Vec::new();
    for e in rd.flatten().take(MAX_ENTRIES + 1) {
        let name = e.file_name().to_string_lossy().into_owned();
        // Follows links: a link to a folder opens like a folder.
        let meta = std::fs::metadata(e.path()).ok();
        out.push(DirEntry {
            name,
            is_dir: meta.as_ref().is_some_and(|m| m.is_dir()),
            size: meta.map_or(0, |m| m.len()),
        });
    }
    Listing::Dir(out)
}

/// `path` with `.` and `..` resolved without touching the disk.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What the chooser's owner must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChooserOutcome {
    /// The customer picked `path` (a file in [`ChooserMode::OpenFile`], a
    /// folder otherwise); `overwrite`: they confirmed replacing the file of
    /// the save name in that folder.
    Chosen {
        /// The file or folder.
        path: PathBuf,
        /// Replace an existing file (confirmed).
        overwrite: bool,
    },
    /// Cancel, Escape or the window's close button: nothing is chosen.
    Cancelled,
}

/// The chooser's state.
#[derive(Debug, Clone)]
pub struct ChooserModel {
    /// What is picked.
    pub mode: ChooserMode,
    /// The window heading ("Choose a file to send").
    pub title: String,
    /// The label of the Choose button.
    pub choose_label: String,
    /// The folder shown.
    pub dir: PathBuf,
    /// Its entries, sorted, hidden ones left out.
    pub entries: Vec<DirEntry>,
    /// The folder could not be read (shown instead of the list).
    pub error: Option<String>,
    /// The folder had more than [`MAX_ENTRIES`] entries.
    pub truncated: bool,
    /// Selected row (index into [`visible`](Self::visible)).
    pub selected: Option<usize>,
    /// First visible row.
    pub scroll_top: usize,
    /// Text typed: a filter, or a path when it has a `/` or starts with `~`.
    pub typed: String,
    /// Shortcut places.
    pub shortcuts: Vec<(Place, PathBuf)>,
    /// The name the file will have in the chosen folder: a file of that
    /// name there asks "Replace?" first.
    pub save_name: Option<String>,
    /// "Replace?" is asked.
    pub confirm_replace: bool,
    /// The target under the pointer.
    pub hover: Option<Target>,
    home: Option<PathBuf>,
    request: Option<PathBuf>,
    choose_after_listing: bool,
    last_press: Option<(usize, u64)>,
}

impl ChooserModel {
    /// A chooser starting at `start`; ask the glue for its content through
    /// [`take_request`](Self::take_request).
    pub fn new(
        mode: ChooserMode,
        title: String,
        choose_label: String,
        start: PathBuf,
        places: &Places,
    ) -> Self {
        ChooserModel {
            mode,
            title,
            choose_label,
            dir: start.clone(),
            entries: Vec::new(),
            error: None,
            truncated: false,
            selected: None,
            scroll_top: 0,
            typed: String::new(),
            shortcuts: places.shortcuts(),
            save_name: None,
            confirm_replace: false,
            hover: None,
            home: places.home.clone(),
            request: Some(start),
            choose_after_listing: false,
            last_press: None,
        }
    }

    /// The folder the glue must read next, if any.
    pub fn take_request(&mut self) -> Option<PathBuf> {
        self.request.take()
    }

    fn want(&mut self, path: PathBuf) {
        self.request = Some(normalize(&path));
        self.choose_after_listing = false;
    }

    /// The glue's answer for `path`.
    pub fn set_listing(&mut self, path: PathBuf, listing: Listing) -> Option<ChooserOutcome> {
        let choose = std::mem::take(&mut self.choose_after_listing);
        match listing {
            Listing::File if self.mode == ChooserMode::OpenFile => {
                return Some(ChooserOutcome::Chosen {
                    path,
                    overwrite: false,
                });
            }
            Listing::File => {
                self.show(path, Vec::new());
                self.error = Some("not a folder".into());
            }
            Listing::Error(e) => {
                self.show(path, Vec::new());
                self.error = Some(e);
            }
            Listing::Dir(mut entries) => {
                entries.retain(|e| !e.name.starts_with('.') && !e.name.is_empty());
                let truncated = entries.len() > MAX_ENTRIES;
                entries.truncate(MAX_ENTRIES);
                entries.sort_by(|a, b| {
                    b.is_dir
                        .cmp(&a.is_dir)
                        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
                        .then_with(|| a.name.cmp(&b.name))
                });
                self.show(path, entries);
                self.truncated = truncated;
                if choose {
                    return self.choose_here();
                }
            }
        }
        None
    }

    fn show(&mut self, path: PathBuf, entries: Vec<DirEntry>) {
        self.dir = path;
        self.entries = entries;
        self.error = None;
        self.truncated = false;
        self.typed.clear();
        self.scroll_top = 0;
        self.confirm_replace = false;
        self.last_press = None;
        self.selected = (!self.visible().is_empty()).then_some(0);
    }

    /// `true` while the typed text is a path (contains `/` or starts with `~`).
    pub fn typed_is_path(&self) -> bool {
        self.typed.contains(['/', std::path::MAIN_SEPARATOR]) || self.typed.starts_with('~')
    }

    /// The rows shown: folders (and files when opening a file) whose name
    /// contains the typed filter.
    pub fn visible(&self) -> Vec<&DirEntry> {
        let filter = if self.typed_is_path() {
            String::new()
        } else {
            self.typed.to_lowercase()
        };
        self.entries
            .iter()
            .filter(|e| self.mode == ChooserMode::OpenFile || e.is_dir)
            .filter(|e| filter.is_empty() || e.name.to_lowercase().contains(&filter))
            .collect()
    }

    /// The selected entry.
    pub fn selected_entry(&self) -> Option<&DirEntry> {
        self.selected.and_then(|i| self.visible().get(i).copied())
    }

    /// Whether the Choose button does something now.
    pub fn can_choose(&self) -> bool {
        if self.confirm_replace {
            return false;
        }
        match self.mode {
            ChooserMode::OpenFile => self.selected_entry().is_some() || self.typed_is_path(),
            ChooserMode::ChooseFolder => self.error.is_none() || self.typed_is_path(),
        }
    }

    fn select(&mut self, i: usize) {
        let n = self.visible().len();
        if n == 0 {
            self.selected = None;
            return;
        }
        let i = i.min(n - 1);
        self.selected = Some(i);
        if i < self.scroll_top {
            self.scroll_top = i;
        } else if i >= self.scroll_top + CHOOSER_ROWS {
            self.scroll_top = i + 1 - CHOOSER_ROWS;
        }
    }

    fn move_by(&mut self, delta: isize) {
        let cur = self.selected.map_or(-1, |s| s as isize);
        self.select((cur + delta).max(0) as usize);
    }

    fn resolve_typed(&self) -> PathBuf {
        let t = self.typed.trim();
        let p = match (t.strip_prefix('~'), &self.home) {
            (Some(rest), Some(home)) => home.join(rest.trim_start_matches('/')),
            _ => PathBuf::from(t),
        };
        normalize(&self.dir.join(p))
    }

    fn choose_here(&mut self) -> Option<ChooserOutcome> {
        if self.error.is_some() {
            return None;
        }
        let exists = self
            .save_name
            .as_ref()
            .is_some_and(|n| self.entries.iter().any(|e| &e.name == n));
        if exists {
            self.confirm_replace = true;
            return None;
        }
        Some(ChooserOutcome::Chosen {
            path: self.dir.clone(),
            overwrite: false,
        })
    }

    /// Enter on the selection, a double-click, or Choose (`button`).
    fn activate(&mut self, button: bool) -> Option<ChooserOutcome> {
        if self.typed_is_path() {
            let p = self.resolve_typed();
            self.want(p);
            // In folder mode, Choose on a typed path chooses it once read.
            self.choose_after_listing = button && self.mode == ChooserMode::ChooseFolder;
            return None;
        }
        let entry = self.selected_entry().cloned();
        match (self.mode, entry) {
            (ChooserMode::OpenFile, Some(e)) if !e.is_dir => Some(ChooserOutcome::Chosen {
                path: self.dir.join(&e.name),
                overwrite: false,
            }),
            // "Save here" is always the folder shown; Enter opens a subfolder.
            (ChooserMode::ChooseFolder, _) if button => self.choose_here(),
            (_, Some(e)) => {
                self.want(self.dir.join(&e.name));
                None
            }
            (ChooserMode::ChooseFolder, None) => self.choose_here(),
            (ChooserMode::OpenFile, None) => None,
        }
    }

    fn parent(&mut self) {
        if let Some(p) = self.dir.parent() {
            self.want(p.to_path_buf());
        }
    }

    /// Reacts to one input.
    pub fn handle(&mut self, input: UiInput) -> Option<ChooserOutcome> {
        if self.confirm_replace {
            return match input {
                UiInput::Hover(t) => {
                    self.hover = t;
                    None
                }
                UiInput::Press {
                    target: Some(Target::Button(ButtonId::ReplaceYes)),
                    ..
                } => Some(ChooserOutcome::Chosen {
                    path: self.dir.clone(),
                    overwrite: true,
                }),
                UiInput::Press {
                    target: Some(Target::Button(ButtonId::ReplaceNo)),
                    ..
                }
                | UiInput::Key(Key::Escape) => {
                    self.confirm_replace = false;
                    None
                }
                UiInput::CloseRequested => Some(ChooserOutcome::Cancelled),
                _ => None,
            };
        }
        let rows = self.visible().len();
        match input {
            UiInput::Hover(t) => self.hover = t,
            UiInput::Tick { .. } => {}
            UiInput::CloseRequested
            | UiInput::Key(Key::Escape)
            | UiInput::Press {
                target: Some(Target::Button(ButtonId::ChooserCancel)),
                ..
            } => return Some(ChooserOutcome::Cancelled),
            UiInput::Key(Key::Up) => self.move_by(-1),
            UiInput::Key(Key::Down) => self.move_by(1),
            UiInput::Key(Key::PageUp) => self.move_by(-(CHOOSER_ROWS as isize)),
            UiInput::Key(Key::PageDown) => self.move_by(CHOOSER_ROWS as isize),
            UiInput::Key(Key::Home) => self.select(0),
            UiInput::Key(Key::End) => self.select(rows.saturating_sub(1)),
            UiInput::Key(Key::Enter) => return self.activate(false),
            UiInput::Key(Key::Backspace) => {
                if self.typed.pop().is_none() {
                    self.parent();
                } else {
                    self.after_typing();
                }
            }
            UiInput::Key(Key::Char(c))
                if !c.is_control() && self.typed.chars().count() < MAX_TYPED =>
            {
                self.typed.push(c);
                self.after_typing();
            }
            UiInput::Scroll(n) => {
                let max = rows.saturating_sub(CHOOSER_ROWS) as i64;
                self.scroll_top = (self.scroll_top as i64 + i64::from(n)).clamp(0, max) as usize;
            }
            UiInput::Press {
                target: Some(Target::Entry(i)),
                time_ms,
            } if i < rows => {
                let double = self
                    .last_press
                    .is_some_and(|(r, t)| r == i && time_ms.saturating_sub(t) <= DOUBLE_CLICK_MS);
                self.selected = Some(i);
                if double {
                    self.last_press = None;
                    return self.activate(false);
                }
                self.last_press = Some((i, time_ms));
            }
            UiInput::Press {
                target: Some(Target::Place(i)),
                ..
            } => {
                if let Some((_, p)) = self.shortcuts.get(i) {
                    self.want(p.clone());
                }
            }
            UiInput::Press {
                target: Some(Target::Button(ButtonId::ChooserParent)),
                ..
            } => self.parent(),
            UiInput::Press {
                target: Some(Target::Button(ButtonId::ChooserChoose)),
                ..
            } if self.can_choose() => return self.activate(true),
            _ => {}
        }
        None
    }

    fn after_typing(&mut self) {
        self.scroll_top = 0;
        self.last_press = None;
        self.selected = (!self.visible().is_empty()).then_some(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, is_dir: bool) -> DirEntry {
        DirEntry {
            name: name.into(),
            is_dir,
            size: 3,
        }
    }

    fn places() -> Places {
        Places {
            home: Some("/home/anna".into()),
            desktop: Some("/home/anna/Scrivania".into()),
            downloads: Some("/home/anna/Scaricati".into()),
            documents: None,
        }
    }

    fn home_listing() -> Listing {
        Listing::Dir(vec![
            entry("zeta.txt", false),
            entry(".bashrc", false),
            entry("Scaricati", true),
            entry("alfa.PDF", false),
            entry("Scrivania", true),
            entry(".cache", true),
            entry("Beta.txt", false),
        ])
    }

    fn open_file() -> ChooserModel {
        let mut c = ChooserModel::new(
            ChooserMode::OpenFile,
            "Send".into(),
            "Choose".into(),
            "/home/anna".into(),
            &places(),
        );
        let p = c.take_request().expect("first listing");
        assert_eq!(p, PathBuf::from("/home/anna"));
        assert_eq!(c.set_listing(p, home_listing()), None);
        c
    }

    fn key(c: &mut ChooserModel, k: Key) -> Option<ChooserOutcome> {
        c.handle(UiInput::Key(k))
    }

    fn names(c: &ChooserModel) -> Vec<String> {
        c.visible().iter().map(|e| e.name.clone()).collect()
    }

    #[test]
    fn folders_first_sorted_hidden_left_out() {
        let c = open_file();
        assert_eq!(
            names(&c),
            ["Scaricati", "Scrivania", "alfa.PDF", "Beta.txt", "zeta.txt"]
        );
        assert_eq!(c.selected, Some(0));
        let shortcuts: Vec<Place> = c.shortcuts.iter().map(|s| s.0).collect();
        assert_eq!(shortcuts, [Place::Home, Place::Desktop, Place::Downloads]);
    }

    #[test]
    fn keyboard_opens_folders_and_picks_a_file() {
        let mut c = open_file();
        key(&mut c, Key::End);
        assert_eq!(
            c.selected_entry().map(|e| e.name.as_str()),
            Some("zeta.txt")
        );
        key(&mut c, Key::Up);
        assert_eq!(
            key(&mut c, Key::Enter),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Beta.txt".into(),
                overwrite: false
            })
        );
        // Enter on a folder asks for its listing.
        key(&mut c, Key::Home);
        assert_eq!(key(&mut c, Key::Enter), None);
        assert_eq!(c.take_request(), Some("/home/anna/Scaricati".into()));
        assert_eq!(c.take_request(), None);
        c.set_listing("/home/anna/Scaricati".into(), Listing::Dir(vec![]));
        assert_eq!(c.dir, PathBuf::from("/home/anna/Scaricati"));
        assert_eq!(c.selected, None);
        // Enter with nothing to pick does nothing; Backspace goes up.
        assert_eq!(key(&mut c, Key::Enter), None);
        assert_eq!(c.take_request(), None);
        key(&mut c, Key::Backspace);
        assert_eq!(c.take_request(), Some("/home/anna".into()));
    }

    #[test]
    fn typing_filters_and_paths() {
        let mut c = open_file();
        for ch in "TXT".chars() {
            key(&mut c, Key::Char(ch));
        }
        assert_eq!(names(&c), ["Beta.txt", "zeta.txt"]);
        assert_eq!(c.selected, Some(0));
        key(&mut c, Key::Backspace);
        assert_eq!(c.typed, "TX");
        assert_eq!(c.take_request(), None, "backspace edits the filter first");
        for ch in "zzz".chars() {
            key(&mut c, Key::Char(ch));
        }
        assert!(c.visible().is_empty());
        assert_eq!(c.selected, None);
        assert_eq!(key(&mut c, Key::Enter), None);
        // A path: relative, with "..", or from "~".
        c.typed = "../bob/./x".into();
        assert!(c.typed_is_path());
        assert_eq!(names(&c).len(), 5, "a path does not filter");
        key(&mut c, Key::Enter);
        assert_eq!(c.take_request(), Some("/home/bob/x".into()));
        c.typed = "~/Scrivania/nota.txt".into();
        key(&mut c, Key::Enter);
        let p = c.take_request().expect("request");
        assert_eq!(p, PathBuf::from("/home/anna/Scrivania/nota.txt"));
        // The glue says it is a file: opening a file picks it.
        assert_eq!(
            c.set_listing(p.clone(), Listing::File),
            Some(ChooserOutcome::Chosen {
                path: p,
                overwrite: false
            })
        );
        // Control characters are not typed; the field is bounded.
        c.typed.clear();
        key(&mut c, Key::Char('\u{7}'));
        assert!(c.typed.is_empty());
        for _ in 0..MAX_TYPED + 10 {
            key(&mut c, Key::Char('a'));
        }
        assert_eq!(c.typed.chars().count(), MAX_TYPED);
    }

    #[test]
    fn mouse_select_double_click_places_and_buttons() {
        let mut c = open_file();
        let press = |t, time_ms| UiInput::Press {
            target: Some(t),
            time_ms,
        };
        assert_eq!(c.handle(press(Target::Entry(3), 1000)), None);
        assert_eq!(c.selected, Some(3));
        // Too slow for a double-click.
        assert_eq!(
            c.handle(press(Target::Entry(3), 1000 + DOUBLE_CLICK_MS + 1)),
            None
        );
        assert_eq!(
            c.handle(press(Target::Entry(3), 1600)),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Beta.txt".into(),
                overwrite: false
            })
        );
        // A row past the end is ignored.
        assert_eq!(c.handle(press(Target::Entry(99), 2000)), None);
        assert_eq!(c.selected, Some(3));
        // Choose with a file selected picks it.
        assert!(c.can_choose());
        assert!(
            c.handle(press(Target::Button(ButtonId::ChooserChoose), 3000))
                .is_some()
        );
        // Shortcut and parent buttons ask for listings.
        c.handle(press(Target::Place(2), 4000));
        assert_eq!(c.take_request(), Some("/home/anna/Scaricati".into()));
        c.handle(press(Target::Button(ButtonId::ChooserParent), 4100));
        assert_eq!(c.take_request(), Some("/home".into()));
        c.handle(press(Target::Place(9), 4200));
        assert_eq!(c.take_request(), None);
        assert_eq!(
            c.handle(press(Target::Button(ButtonId::ChooserCancel), 5000)),
            Some(ChooserOutcome::Cancelled)
        );
        assert_eq!(
            c.handle(UiInput::Key(Key::Escape)),
            Some(ChooserOutcome::Cancelled)
        );
        assert_eq!(
            c.handle(UiInput::CloseRequested),
            Some(ChooserOutcome::Cancelled)
        );
    }

    #[test]
    fn long_lists_scroll() {
        let mut c = open_file();
        let many: Vec<DirEntry> = (0..100)
            .map(|i| entry(&format!("f{i:03}"), false))
            .collect();
        c.set_listing("/big".into(), Listing::Dir(many));
        key(&mut c, Key::PageDown);
        assert_eq!(c.selected, Some(CHOOSER_ROWS));
        assert_eq!(c.scroll_top, 1);
        key(&mut c, Key::End);
        assert_eq!(c.selected, Some(99));
        assert_eq!(c.scroll_top, 100 - CHOOSER_ROWS);
        key(&mut c, Key::PageUp);
        assert_eq!(c.selected, Some(99 - CHOOSER_ROWS));
        c.handle(UiInput::Scroll(-1000));
        assert_eq!(c.scroll_top, 0);
        c.handle(UiInput::Scroll(1000));
        assert_eq!(c.scroll_top, 100 - CHOOSER_ROWS);
        // More than MAX_ENTRIES: kept bounded.
        let huge: Vec<DirEntry> = (0..MAX_ENTRIES + 5)
            .map(|i| entry(&format!("h{i}"), false))
            .collect();
        c.set_listing("/huge".into(), Listing::Dir(huge));
        assert_eq!(c.entries.len(), MAX_ENTRIES);
        assert!(c.truncated);
    }

    #[test]
    fn unreadable_folder_is_text_not_a_panic() {
        let mut c = open_file();
        c.handle(UiInput::Key(Key::Home));
        c.handle(UiInput::Key(Key::Enter));
        let p = c.take_request().expect("request");
        c.set_listing(p, Listing::Error("Permission denied (os error 13)".into()));
        assert_eq!(c.error.as_deref(), Some("Permission denied (os error 13)"));
        assert!(c.visible().is_empty());
        assert!(!c.can_choose());
        for k in [Key::Up, Key::Down, Key::PageDown, Key::End, Key::Enter] {
            assert_eq!(key(&mut c, k), None);
        }
        key(&mut c, Key::Backspace);
        assert_eq!(c.take_request(), Some("/home/anna".into()));
    }

    fn save_into(name: &str) -> ChooserModel {
        let mut c = ChooserModel::new(
            ChooserMode::ChooseFolder,
            "Save".into(),
            "Save here".into(),
            "/home/anna/Scaricati".into(),
            &places(),
        );
        c.save_name = Some(name.into());
        let p = c.take_request().expect("first listing");
        c.set_listing(
            p,
            Listing::Dir(vec![entry("report.pdf", false), entry("Lavoro", true)]),
        );
        c
    }

    #[test]
    fn folder_mode_lists_folders_and_chooses_the_current_one() {
        let mut c = save_into("new.pdf");
        assert_eq!(names(&c), ["Lavoro"]);
        // "Save here" with "Lavoro" selected: the folder shown.
        let choose = UiInput::Press {
            target: Some(Target::Button(ButtonId::ChooserChoose)),
            time_ms: 0,
        };
        assert_eq!(
            c.handle(choose),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Scaricati".into(),
                overwrite: false
            })
        );
        // Enter opens the selected folder; a typed path and "Save here"
        // choose that folder once read.
        assert_eq!(c.handle(UiInput::Key(Key::Enter)), None);
        assert_eq!(c.take_request(), Some("/home/anna/Scaricati/Lavoro".into()));
        c.typed = "~/Scrivania".into();
        assert_eq!(c.handle(choose), None);
        let p = c.take_request().expect("request");
        assert_eq!(p, PathBuf::from("/home/anna/Scrivania"));
        assert_eq!(
            c.set_listing(p, Listing::Dir(vec![])),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Scrivania".into(),
                overwrite: false
            })
        );
        // Enter with no folder selected: the folder shown.
        let mut c = save_into("new.pdf");
        c.handle(UiInput::Key(Key::Char('z')));
        assert_eq!(c.selected, None);
        assert_eq!(
            c.handle(UiInput::Key(Key::Enter)),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Scaricati".into(),
                overwrite: false
            })
        );
    }

    #[test]
    fn an_existing_name_asks_replace_first() {
        let mut c = save_into("report.pdf");
        c.handle(UiInput::Key(Key::Char('z'))); // no folder selected
        assert_eq!(c.handle(UiInput::Key(Key::Enter)), None);
        assert!(c.confirm_replace);
        assert!(!c.can_choose());
        // Other inputs wait for the answer; No goes back to the chooser.
        assert_eq!(c.handle(UiInput::Key(Key::Enter)), None);
        let no = UiInput::Press {
            target: Some(Target::Button(ButtonId::ReplaceNo)),
            time_ms: 0,
        };
        assert_eq!(c.handle(no), None);
        assert!(!c.confirm_replace);
        c.handle(UiInput::Key(Key::Enter));
        assert!(c.confirm_replace);
        let yes = UiInput::Press {
            target: Some(Target::Button(ButtonId::ReplaceYes)),
            time_ms: 0,
        };
        assert_eq!(
            c.handle(yes),
            Some(ChooserOutcome::Chosen {
                path: "/home/anna/Scaricati".into(),
                overwrite: true
            })
        );
        // A listing that is a file is an error in folder mode.
        let mut c = save_into("x");
        c.set_listing("/etc/passwd".into(), Listing::File);
        assert!(c.error.is_some());
        assert!(!c.can_choose());
    }

    #[test]
    fn user_dirs_and_normalize() {
        let text = "# x\nXDG_DESKTOP_DIR=\"$HOME/Scrivania\"\nXDG_DOWNLOAD_DIR=\"/data/dl\"\n";
        let home = Path::new("/home/anna");
        assert_eq!(
            user_dir(text, "XDG_DESKTOP_DIR", home),
            Some("/home/anna/Scrivania".into())
        );
        assert_eq!(
            user_dir(text, "XDG_DOWNLOAD_DIR", home),
            Some("/data/dl".into())
        );
        assert_eq!(user_dir(text, "XDG_MUSIC_DIR", home), None);
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/..")), PathBuf::from("/"));
    }

    #[test]
    fn list_dir_reads_a_real_folder() {
        let dir = std::env::temp_dir().join(format!("remoto-chooser-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
        assert!(
            matches!(list_dir(&dir), Listing::Dir(v) if v.iter().any(|e| e.name == "sub" && e.is_dir))
        );
        assert!(matches!(list_dir(&dir.join("missing")), Listing::Error(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
