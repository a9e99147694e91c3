//! A minimal XDND (version 5) drag *source*: drops one file on a window of
//! an X display exactly as a file manager would, so that a test can check
//! what the receiving program does with `WindowEvent::DroppedFile`.
//!
//! The source is a small unmapped window that owns `XdndSelection` and
//! offers one type, `text/uri-list`, with the file's `file://` URI. The
//! whole exchange (Enter, Position, Status, Drop, the selection transfer,
//! Finished) is bounded by [`DROP_TIMEOUT`]: a target that does not answer
//! is an error, never a hang.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ClientMessageEvent, ConnectionExt, CreateWindowAux, EventMask, PropMode,
    SELECTION_NOTIFY_EVENT, SelectionNotifyEvent, SelectionRequestEvent, Timestamp, Window,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The XDND protocol version this source speaks.
pub const XDND_VERSION: u32 = 5;

/// How long the whole drop may take before [`drop_file`] gives up.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(10);

/// The `text/uri-list` body for one file: `file://` followed by the
/// absolute path, every byte outside RFC 3986's unreserved set and `/`
/// percent-encoded, and a CRLF line end.
pub fn uri_list(absolute: &Path) -> Vec<u8> {
    let mut out = b"file://".to_vec();
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The atoms of the exchange.
struct Atoms {
    aware: Atom,
    enter: Atom,
    position: Atom,
    status: Atom,
    drop: Atom,
    finished: Atom,
    selection: Atom,
    type_list: Atom,
    action_copy: Atom,
    uri_list: Atom,
    targets: Atom,
}

impl Atoms {
    fn intern(conn: &RustConnection) -> Result<Atoms, String> {
        let names = [
            "XdndAware",
            "XdndEnter",
            "XdndPosition",
            "XdndStatus",
            "XdndDrop",
            "XdndFinished",
            "XdndSelection",
            "XdndTypeList",
            "XdndActionCopy",
            "text/uri-list",
            "TARGETS",
        ];
        let cookies = names
            .iter()
            .map(|n| {
                conn.intern_atom(false, n.as_bytes())
                    .map_err(|e| format!("cannot intern {n}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut atoms = Vec::with_capacity(names.len());
        for (cookie, name) in cookies.into_iter().zip(names) {
            atoms.push(
                cookie
                    .reply()
                    .map_err(|e| format!("cannot intern {name}: {e}"))?
                    .atom,
            );
        }
        Ok(Atoms {
            aware: atoms[0],
            enter: atoms[1],
            position: atoms[2],
            status: atoms[3],
            drop: atoms[4],
            finished: atoms[5],
            selection: atoms[6],
            type_list: atoms[7],
            action_copy: atoms[8],
            uri_list: atoms[9],
            targets: atoms[10],
        })
    }
}

/// Where the drag stands; the source serves selection requests in every
/// state (XDND targets may ask for the data as soon as they see a
/// position, before the drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// XdndPosition sent, waiting for an accepting XdndStatus.
    Positioned,
    /// XdndDrop sent, waiting for XdndFinished.
    Dropped,
}

/// Drops the file at `path` on `target_window` of `display` (`:N`) at the
/// point (`x`, `y`) relative to that window, as an XDND version 5 source
/// offering `text/uri-list`, and returns once the target has sent an
/// `XdndFinished` that reports success.
///
/// The message target is `target_window` or the nearest ancestor that
/// carries `XdndAware` (toolkits may set it on their toplevel only). Fails,
/// saying which step did not happen, if the display cannot be reached, no
/// window is XDND-aware, the target rejects the drag or the drop, never
/// asks for the data, or does not answer within [`DROP_TIMEOUT`].
pub fn drop_file(
    display: &str,
    target_window: u32,
    x: i16,
    y: i16,
    path: &Path,
) -> Result<(), String> {
    let deadline = Instant::now() + DROP_TIMEOUT;
    let absolute = path
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    let data = uri_list(&absolute);

    let (conn, screen_num) = x11rb::connect(Some(display))
        .map_err(|e| format!("cannot connect to X display {display}: {e}"))?;
    let root = conn.setup().roots[screen_num].root;
    let atoms = Atoms::intern(&conn)?;
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");

    let (target, version) = find_aware(&conn, &atoms, target_window, root)?;

    // The source window: unmapped, receives property changes (for a
    // server timestamp) and the target's client messages.
    let source = conn
        .generate_id()
        .map_err(|e| fail("cannot allocate a window id", &e))?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        source,
        root,
        -10,
        -10,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
    )
    .map_err(|e| fail("cannot create the source window", &e))?
    .check()
    .map_err(|e| fail("cannot create the source window", &e))?;
    let result = drag(
        &conn,
        &atoms,
        (root, source),
        (target_window, target, version),
        (x, y),
        &data,
        deadline,
    )
    .map_err(|e| format!("dropping {} on window {target:#x}: {e}", absolute.display()));
    let _ = conn.destroy_window(source);
    let _ = conn.flush();
    result
}

/// `window` or its nearest ancestor with `XdndAware`, and the version to
/// speak (the lower of the target's and ours).
fn find_aware(
    conn: &RustConnection,
    atoms: &Atoms,
    window: Window,
    root: Window,
) -> Result<(Window, u32), String> {
    let mut w = window;
    loop {
        let prop = conn
            .get_property(false, w, atoms.aware, AtomEnum::ATOM, 0, 1)
            .map_err(|e| format!("cannot read XdndAware of {w:#x}: {e}"))?
            .reply()
            .map_err(|e| format!("cannot read XdndAware of {w:#x} (no such window?): {e}"))?;
        if let Some(v) = prop.value32().and_then(|mut v| v.next()) {
            if v < 3 {
                return Err(format!(
                    "window {w:#x} speaks XDND version {v}; this source needs 3 or later"
                ));
            }
            return Ok((w, v.min(XDND_VERSION)));
        }
        let tree = conn
            .query_tree(w)
            .map_err(|e| format!("cannot query the parent of {w:#x}: {e}"))?
            .reply()
            .map_err(|e| format!("cannot query the parent of {w:#x}: {e}"))?;
        if w == root || tree.parent == x11rb::NONE || tree.parent == root {
            return Err(format!(
                "neither window {window:#x} nor its ancestors have XdndAware: \
                 it does not accept drops"
            ));
        }
        w = tree.parent;
    }
}

/// The exchange proper, once the `source` window exists (`root` is its
/// parent, the root window): `pointed` is the window the point (`x`, `y`)
/// is relative to, `target` the XDND-aware window (itself or an ancestor)
/// that gets the messages, `version` the protocol version to speak.
fn drag(
    conn: &RustConnection,
    atoms: &Atoms,
    (root, source): (Window, Window),
    (pointed, target, version): (Window, Window, u32),
    (x, y): (i16, i16),
    data: &[u8],
    deadline: Instant,
) -> Result<(), String> {
    let time = server_time(conn, source, deadline)?;
    conn.change_property32(
        PropMode::REPLACE,
        source,
        atoms.type_list,
        AtomEnum::ATOM,
        &[atoms.uri_list],
    )
    .map_err(|e| format!("cannot set XdndTypeList: {e}"))?;
    conn.set_selection_owner(source, atoms.selection, time)
        .map_err(|e| format!("cannot own XdndSelection: {e}"))?;
    let owner = conn
        .get_selection_owner(atoms.selection)
        .map_err(|e| format!("cannot read the XdndSelection owner: {e}"))?
        .reply()
        .map_err(|e| format!("cannot read the XdndSelection owner: {e}"))?
        .owner;
    if owner != source {
        return Err(format!(
            "did not get XdndSelection (owned by {owner:#x} instead)"
        ));
    }

    // Root coordinates of the drop point.
    let at = conn
        .translate_coordinates(pointed, root, x, y)
        .map_err(|e| format!("cannot translate ({x}, {y}) to root coordinates: {e}"))?
        .reply()
        .map_err(|e| format!("cannot translate ({x}, {y}) to root coordinates: {e}"))?;
    let packed = (u32::from(at.dst_x as u16) << 16) | u32::from(at.dst_y as u16);

    let send = |kind: &str, message_type: Atom, data: [u32; 5]| -> Result<(), String> {
        let event = ClientMessageEvent::new(32, target, message_type, data);
        conn.send_event(false, target, EventMask::NO_EVENT, event)
            .map_err(|e| format!("cannot send {kind}: {e}"))?
            .check()
            .map_err(|e| format!("cannot send {kind}: {e}"))
    };
    // Enter: version in the high byte, types in the message (bit 0 clear:
    // no more than three), text/uri-list first.
    send(
        "XdndEnter",
        atoms.enter,
        [source, version << 24, atoms.uri_list, 0, 0],
    )?;
    send(
        "XdndPosition",
        atoms.position,
        [source, 0, packed, time, atoms.action_copy],
    )?;

    let mut stage = Stage::Positioned;
    let mut served = 0usize;
    loop {
        let event = next_event(conn, deadline).map_err(|e| {
            format!(
                "{e} while waiting for {} ({served} selection request(s) served)",
                match stage {
                    Stage::Positioned => "an XdndStatus that accepts the drag",
                    Stage::Dropped => "XdndFinished",
                }
            )
        })?;
        match event {
            Event::SelectionRequest(req) if req.selection == atoms.selection => {
                served += usize::from(serve(conn, atoms, &req, data)?);
            }
            Event::ClientMessage(m) if m.type_ == atoms.status && stage == Stage::Positioned => {
                let d = m.data.as_data32();
                if d[0] != target {
                    continue;
                }
                if d[1] & 1 == 0 {
                    return Err(format!(
                        "the target rejected the drag (XdndStatus flags {:#x}, action {})",
                        d[1],
                        atom_name(conn, d[4])
                    ));
                }
                send("XdndDrop", atoms.drop, [source, 0, time, 0, 0])?;
                stage = Stage::Dropped;
            }
            Event::ClientMessage(m) if m.type_ == atoms.finished => {
                let d = m.data.as_data32();
                if d[0] != target {
                    continue;
                }
                if stage != Stage::Dropped {
                    return Err("the target sent XdndFinished before the drop".into());
                }
                if version >= 5 && d[1] & 1 == 0 {
                    return Err(format!(
                        "the target finished without accepting the drop \
                         (XdndFinished flags {:#x}, action {}; {served} selection request(s) served)",
                        d[1],
                        atom_name(conn, d[2])
                    ));
                }
                if served == 0 {
                    return Err("the target finished the drop without asking for the data".into());
                }
                return Ok(());
            }
            _ => {}
        }
    }
}

/// A server timestamp (ICCCM: from a zero-length property append on our
/// own window), for the selection ownership and the XDND messages.
fn server_time(
    conn: &RustConnection,
    source: Window,
    deadline: Instant,
) -> Result<Timestamp, String> {
    conn.change_property8(
        PropMode::APPEND,
        source,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        &[],
    )
    .map_err(|e| format!("cannot touch the source window: {e}"))?;
    conn.flush()
        .map_err(|e| format!("cannot talk to the X server: {e}"))?;
    loop {
        let event = next_event(conn, deadline)
            .map_err(|e| format!("{e} while waiting for a server timestamp"))?;
        if let Event::PropertyNotify(p) = event
            && p.window == source
        {
            return Ok(p.time);
        }
    }
}

/// Answers a request for `XdndSelection`: `text/uri-list` gets `data`,
/// `TARGETS` the list of types, anything else a refusal. Returns whether
/// the data itself was delivered.
fn serve(
    conn: &RustConnection,
    atoms: &Atoms,
    req: &SelectionRequestEvent,
    data: &[u8],
) -> Result<bool, String> {
    // Obsolete requestors leave the property None: use the target.
    let property = if req.property == x11rb::NONE {
        req.target
    } else {
        req.property
    };
    let mut delivered = false;
    let answer = if req.target == atoms.uri_list {
        conn.change_property8(
            PropMode::REPLACE,
            req.requestor,
            property,
            atoms.uri_list,
            data,
        )
        .map_err(|e| format!("cannot write the dropped data: {e}"))?;
        delivered = true;
        property
    } else if req.target == atoms.targets {
        conn.change_property32(
            PropMode::REPLACE,
            req.requestor,
            property,
            AtomEnum::ATOM,
            &[atoms.targets, atoms.uri_list],
        )
        .map_err(|e| format!("cannot write TARGETS: {e}"))?;
        property
    } else {
        x11rb::NONE
    };
    let notify = SelectionNotifyEvent {
        response_type: SELECTION_NOTIFY_EVENT,
        sequence: 0,
        time: req.time,
        requestor: req.requestor,
        selection: req.selection,
        target: req.target,
        property: answer,
    };
    conn.send_event(false, req.requestor, EventMask::NO_EVENT, notify)
        .map_err(|e| format!("cannot send SelectionNotify: {e}"))?;
    conn.flush()
        .map_err(|e| format!("cannot talk to the X server: {e}"))?;
    Ok(delivered)
}

/// The next event, polling until `deadline`; an error says the time ran
/// out or the connection broke.
fn next_event(conn: &RustConnection, deadline: Instant) -> Result<Event, String> {
    conn.flush()
        .map_err(|e| format!("cannot talk to the X server: {e}"))?;
    loop {
        match conn.poll_for_event() {
            Ok(Some(event)) => return Ok(event),
            Ok(None) => {}
            Err(e) => return Err(format!("the X connection broke: {e}")),
        }
        if Instant::now() >= deadline {
            return Err(format!("no answer within {DROP_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An atom's name for error messages (its number if the server cannot
/// say).
fn atom_name(conn: &RustConnection, atom: Atom) -> String {
    if atom == x11rb::NONE {
        return "None".into();
    }
    conn.get_atom_name(atom)
        .ok()
        .and_then(|c| c.reply().ok())
        .map(|r| String::from_utf8_lossy(&r.name).into_owned())
        .unwrap_or_else(|| atom.to_string())
}

#[cfg(test)]
mod tests {
    use super::uri_list;
    use std::path::Path;

    #[test]
    fn uri_list_percent_encodes_outside_unreserved_and_slash() {
        assert_eq!(
            uri_list(Path::new("/tmp/a b/ré%port-1_~.bin")),
            b"file:///tmp/a%20b/r%C3%A9%25port-1_~.bin\r\n".to_vec()
        );
    }
}
