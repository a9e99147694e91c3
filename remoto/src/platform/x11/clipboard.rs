//! The CLIPBOARD selection, both ways, as UTF-8 text.
//!
//! A worker thread with its own connection and an unmapped window:
//! - owns CLIPBOARD after [`X11Clipboard::set`] and answers other programs'
//!   SelectionRequests at once (targets `TARGETS`, `UTF8_STRING`, `TEXT`,
//!   `STRING`, `TIMESTAMP`);
//! - watches the owner with XFIXES SelectionNotify and, when another
//!   program takes CLIPBOARD, converts it to `UTF8_STRING` (or `STRING`),
//!   incremental (`INCR`) transfers included, for [`X11Clipboard::changes`].
//!
//! Not done: sending text larger than one request (INCR on our side); such
//! text is refused to the requestor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use rfb::limits::MAX_CLIPBOARD_LEN;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::xfixes;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, PropMode,
    Property, SelectionNotifyEvent, SelectionRequestEvent, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use super::require_extension;
use crate::platform::PlatformError;

/// The atoms we use.
#[derive(Debug, Clone, Copy)]
struct Atoms {
    clipboard: Atom,
    utf8: Atom,
    targets: Atom,
    text: Atom,
    timestamp: Atom,
    incr: Atom,
    property: Atom,
    stop: Atom,
}

impl Atoms {
    fn intern(conn: &RustConnection) -> Result<Self, PlatformError> {
        let names: [&[u8]; 8] = [
            b"CLIPBOARD",
            b"UTF8_STRING",
            b"TARGETS",
            b"TEXT",
            b"TIMESTAMP",
            b"INCR",
            b"REMOTO_SELECTION",
            b"REMOTO_STOP",
        ];
        let cookies = names
            .iter()
            .map(|n| conn.intern_atom(false, n))
            .collect::<Result<Vec<_>, _>>()?;
        let mut atoms = Vec::with_capacity(names.len());
        for c in cookies {
            atoms.push(c.reply()?.atom);
        }
        Ok(Self {
            clipboard: atoms[0],
            utf8: atoms[1],
            targets: atoms[2],
            text: atoms[3],
            timestamp: atoms[4],
            incr: atoms[5],
            property: atoms[6],
            stop: atoms[7],
        })
    }
}

/// What the worker and the owner of [`X11Clipboard`] share.
#[derive(Debug, Default)]
struct State {
    /// Our text while we own CLIPBOARD.
    owned: Option<String>,
    /// Text another program put on the clipboard, not yet taken.
    incoming: Option<String>,
}

/// The X CLIPBOARD selection, read and written as text.
pub struct X11Clipboard {
    conn: Arc<RustConnection>,
    window: Window,
    atoms: Atoms,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    worker: Option<JoinHandle<Result<(), PlatformError>>>,
}

impl std::fmt::Debug for X11Clipboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Clipboard")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl X11Clipboard {
    /// Connects to `display` (`None`: `$DISPLAY`) and starts the worker.
    /// Needs XFIXES (selection notifications).
    pub fn open(display: Option<&str>) -> Result<Self, PlatformError> {
        let (conn, screen_num) = x11rb::connect(display)?;
        require_extension(&conn, xfixes::X11_EXTENSION_NAME)?;
        xfixes::query_version(&conn, 5, 0)?.reply()?;
        let root = super::screen_of(&conn, screen_num)?.root;
        let atoms = Atoms::intern(&conn)?;
        let window = conn.generate_id()?;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            1,
            1,
            0,
            WindowClass::INPUT_ONLY,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
        )?
        .check()?;
        xfixes::select_selection_input(
            &conn,
            window,
            atoms.clipboard,
            xfixes::SelectionEventMask::SET_SELECTION_OWNER
                | xfixes::SelectionEventMask::SELECTION_WINDOW_DESTROY
                | xfixes::SelectionEventMask::SELECTION_CLIENT_CLOSE,
        )?
        .check()?;
        let conn = Arc::new(conn);
        let state = Arc::new(Mutex::new(State::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let worker = {
            let mut w = Worker {
                conn: conn.clone(),
                window,
                atoms,
                state: state.clone(),
                stopping: stopping.clone(),
                incr: None,
                tried_string: false,
            };
            std::thread::Builder::new()
                .name("remoto-clipboard".into())
                .spawn(move || w.run())?
        };
        Ok(Self {
            conn,
            window,
            atoms,
            state,
            stopping,
            worker: Some(worker),
        })
    }

    fn check_worker(&self) -> Result<(), PlatformError> {
        match &self.worker {
            Some(w) if !w.is_finished() => Ok(()),
            _ => Err(PlatformError::Clipboard("the clipboard worker stopped")),
        }
    }

    /// Makes `text` the clipboard content (we own CLIPBOARD until another
    /// program takes it).
    pub fn set(&mut self, text: &str) -> Result<(), PlatformError> {
        self.check_worker()?;
        if text.len() > MAX_CLIPBOARD_LEN {
            return Err(PlatformError::Clipboard("text too large"));
        }
        lock(&self.state).owned = Some(text.to_owned());
        self.conn
            .set_selection_owner(self.window, self.atoms.clipboard, x11rb::CURRENT_TIME)?;
        let owner = self
            .conn
            .get_selection_owner(self.atoms.clipboard)?
            .reply()?
            .owner;
        if owner != self.window {
            lock(&self.state).owned = None;
            return Err(PlatformError::Clipboard(
                "could not take the CLIPBOARD selection",
            ));
        }
        Ok(())
    }

    /// The text another program put on the clipboard since the last call.
    pub fn changes(&mut self) -> Result<Option<String>, PlatformError> {
        let text = lock(&self.state).incoming.take();
        if text.is_none() {
            self.check_worker()?;
        }
        Ok(text)
    }
}

impl Drop for X11Clipboard {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let wake = ClientMessageEvent::new(32, self.window, self.atoms.stop, [0u32; 5]);
        let sent = self
            .conn
            .send_event(false, self.window, EventMask::NO_EVENT, wake)
            .map(|_| ())
            .and_then(|()| self.conn.flush());
        // Without the wake-up the worker may block for ever: leave it then
        // (it ends with the connection, at the latest with the process).
        if let Some(worker) = self.worker.take()
            && sent.is_ok()
        {
            match worker.join() {
                Ok(Err(e)) => tracing::debug!("clipboard worker ended: {e}"),
                Ok(Ok(())) => {}
                Err(_) => tracing::warn!("clipboard worker panicked"),
            }
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An incremental transfer being received.
#[derive(Debug)]
struct Incr {
    utf8: bool,
    data: Vec<u8>,
}

struct Worker {
    conn: Arc<RustConnection>,
    window: Window,
    atoms: Atoms,
    state: Arc<Mutex<State>>,
    stopping: Arc<AtomicBool>,
    incr: Option<Incr>,
    tried_string: bool,
}

impl Worker {
    fn run(&mut self) -> Result<(), PlatformError> {
        loop {
            let event = self.conn.wait_for_event()?;
            if self.stopping.load(Ordering::SeqCst) {
                return Ok(());
            }
            match event {
                // Another program (or nobody) owns CLIPBOARD now.
                Event::XfixesSelectionNotify(e)
                    if e.selection == self.atoms.clipboard && e.owner != self.window =>
                {
                    lock(&self.state).owned = None;
                    if e.owner != x11rb::NONE {
                        self.tried_string = false;
                        self.incr = None;
                        self.conn.convert_selection(
                            self.window,
                            self.atoms.clipboard,
                            self.atoms.utf8,
                            self.atoms.property,
                            e.selection_timestamp,
                        )?;
                    }
                }
                Event::SelectionNotify(e) => self.on_converted(e)?,
                Event::PropertyNotify(e)
                    if e.window == self.window
                        && e.atom == self.atoms.property
                        && e.state == Property::NEW_VALUE
                        && self.incr.is_some() =>
                {
                    self.on_incr_chunk()?;
                }
                Event::SelectionRequest(e) => self.on_request(e)?,
                Event::SelectionClear(e) if e.selection == self.atoms.clipboard => {
                    lock(&self.state).owned = None;
                }
                Event::ClientMessage(e) if e.type_ == self.atoms.stop => return Ok(()),
                _ => {}
            }
            self.conn.flush()?;
        }
    }

    /// Max bytes one GetProperty may return.
    fn max_read_words() -> u32 {
        u32::try_from(MAX_CLIPBOARD_LEN / 4 + 1).unwrap_or(u32::MAX)
    }

    fn on_converted(&mut self, e: SelectionNotifyEvent) -> Result<(), PlatformError> {
        if e.selection != self.atoms.clipboard || e.requestor != self.window {
            return Ok(());
        }
        if e.property == x11rb::NONE {
            if e.target == self.atoms.utf8 && !self.tried_string {
                self.tried_string = true;
                self.conn.convert_selection(
                    self.window,
                    self.atoms.clipboard,
                    AtomEnum::STRING.into(),
                    self.atoms.property,
                    e.time,
                )?;
            }
            return Ok(());
        }
        let reply = self
            .conn
            .get_property(
                true,
                self.window,
                e.property,
                AtomEnum::ANY,
                0,
                Self::max_read_words(),
            )?
            .reply()?;
        if reply.type_ == self.atoms.incr {
            // Deleting the property (done above) asks the owner for chunks.
            self.incr = Some(Incr {
                utf8: e.target != u32::from(AtomEnum::STRING),
                data: Vec::new(),
            });
            return Ok(());
        }
        let utf8 = reply.type_ != u32::from(AtomEnum::STRING);
        self.deliver(utf8, &reply.value);
        Ok(())
    }

    fn on_incr_chunk(&mut self) -> Result<(), PlatformError> {
        let reply = self
            .conn
            .get_property(
                true,
                self.window,
                self.atoms.property,
                AtomEnum::ANY,
                0,
                Self::max_read_words(),
            )?
            .reply()?;
        let Some(incr) = self.incr.as_mut() else {
            return Ok(());
        };
        if reply.value.is_empty() {
            if let Some(done) = self.incr.take() {
                self.deliver(done.utf8, &done.data);
            }
            return Ok(());
        }
        if incr.data.len() + reply.value.len() > MAX_CLIPBOARD_LEN {
            tracing::warn!("clipboard text beyond {MAX_CLIPBOARD_LEN} bytes dropped");
            self.incr = None;
            return Ok(());
        }
        incr.data.extend_from_slice(&reply.value);
        Ok(())
    }

    fn deliver(&self, utf8: bool, bytes: &[u8]) {
        let text = if utf8 {
            String::from_utf8_lossy(bytes).into_owned()
        } else {
            bytes.iter().map(|&b| char::from(b)).collect()
        };
        lock(&self.state).incoming = Some(text);
    }

    fn on_request(&self, e: SelectionRequestEvent) -> Result<(), PlatformError> {
        let property = if e.property == x11rb::NONE {
            e.target
        } else {
            e.property
        };
        let owned = lock(&self.state).owned.clone();
        let answered = match owned {
            Some(text) if e.selection == self.atoms.clipboard => {
                self.answer(&e, property, &text)?
            }
            _ => false,
        };
        let notify = SelectionNotifyEvent {
            response_type: x11rb::protocol::xproto::SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: e.time,
            requestor: e.requestor,
            selection: e.selection,
            target: e.target,
            property: if answered { property } else { x11rb::NONE },
        };
        self.conn
            .send_event(false, e.requestor, EventMask::NO_EVENT, notify)?;
        Ok(())
    }

    /// Writes the requested form of `text` on the requestor's property;
    /// false when the target is not offered or the text is too large.
    fn answer(
        &self,
        e: &SelectionRequestEvent,
        property: Atom,
        text: &str,
    ) -> Result<bool, PlatformError> {
        let a = &self.atoms;
        let limit = self.conn.maximum_request_bytes().saturating_sub(64);
        if e.target == a.targets {
            let targets = [
                a.targets,
                a.utf8,
                a.text,
                u32::from(AtomEnum::STRING),
                a.timestamp,
            ];
            self.conn.change_property32(
                PropMode::REPLACE,
                e.requestor,
                property,
                AtomEnum::ATOM,
                &targets,
            )?;
        } else if e.target == a.utf8 || e.target == a.text {
            if text.len() > limit {
                return Ok(false);
            }
            self.conn.change_property8(
                PropMode::REPLACE,
                e.requestor,
                property,
                a.utf8,
                text.as_bytes(),
            )?;
        } else if e.target == u32::from(AtomEnum::STRING) {
            let latin1: Vec<u8> = text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect();
            if latin1.len() > limit {
                return Ok(false);
            }
            self.conn.change_property8(
                PropMode::REPLACE,
                e.requestor,
                property,
                AtomEnum::STRING,
                &latin1,
            )?;
        } else if e.target == a.timestamp {
            self.conn.change_property32(
                PropMode::REPLACE,
                e.requestor,
                property,
                AtomEnum::INTEGER,
                &[x11rb::CURRENT_TIME],
            )?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}
