//! The sending side of file transfers (the receiving side is
//! [`IncomingTransfers`](crate::control::IncomingTransfers)).
//!
//! [`OutgoingTransfers`] keeps the bookkeeping of offered files (sans-IO):
//! an offer waits for `FileAccept` / `FileRefuse`; an accepted file is
//! streamed by [`send_file`], which reads it chunk by chunk and queues
//! `FileChunk` messages on the control channel. The control queue is
//! bounded and the transport scheduler sends RFB bytes first, so a large
//! file never starves the screen stream: it only uses what the screen leaves.
//!
//! Flow control: the receiver acknowledges what it has written (`FileAck`,
//! see [`ACK_EVERY`](crate::control::ACK_EVERY)) and [`send_file`] keeps at
//! most [`WINDOW`] bytes unacknowledged. Without it the sender fills every
//! queue on the way (socket buffers, the receiver's control queue) with
//! megabytes of chunks, and whatever else travels in the same direction —
//! the technician's RFB update requests — waits behind them. A receiver
//! that stops acknowledging for [`ACK_TIMEOUT`] fails the transfer
//! ([`SendError::Stalled`]).

use crate::control::{ControlMessage, FileName, MAX_FILE_CHUNK};
use crate::tokio_io::{ChannelError, ControlSender};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The most file data [`send_file`] keeps sent but not yet acknowledged by
/// the receiver (`FileAck`), in bytes: 16 chunks. About 2 ms of a 100 MB/s
/// link, so that is all an RFB message travelling the same way waits
/// behind; four acks per window keep the pipe full on a fast link.
pub const WINDOW: u64 = 256 * 1024;

/// How long [`send_file`] waits for the receiver's acknowledgements to
/// progress, when its window is full, before it gives up
/// ([`SendError::Stalled`]).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a file cannot be offered or sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The path has no usable file name.
    #[error("{path}: not a file name that can be sent ({why})")]
    Name {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Not a regular file.
    #[error("{0}: not a regular file")]
    NotAFile(PathBuf),
    /// The file changed size while it was sent.
    #[error("{0}: the file changed while it was sent")]
    Changed(PathBuf),
    /// The transfer was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The receiver acknowledged nothing more for [`ACK_TIMEOUT`] while the
    /// window was full.
    #[error("the other side stopped acknowledging the file (nothing for {}s)", .0.as_secs())]
    Stalled(Duration),
    /// The channel closed.
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

/// A file ready to be offered: its name, size and BLAKE2s-256 digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedFile {
    /// Where it is read from.
    pub path: PathBuf,
    /// The name sent to the peer (the last path component).
    pub name: FileName,
    /// Size in bytes.
    pub size: u64,
    /// BLAKE2s-256 of the content.
    pub digest: [u8; 32],
}

/// Reads `path` once to learn its size and digest (blocking: call it from a
/// blocking thread for large files).
pub fn prepare(path: &Path) -> Result<PreparedFile, SendError> {
    use blake2::Digest;
    let io = |source| SendError::Io {
        path: path.to_owned(),
        source,
    };
    let raw = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| SendError::Name {
            path: path.to_owned(),
            why: "the path does not end in a UTF-8 file name".into(),
        })?;
    let name = FileName::new(raw).map_err(|e| SendError::Name {
        path: path.to_owned(),
        why: e.to_string(),
    })?;
    let mut file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(SendError::NotAFile(path.to_owned()));
    }
    let mut hasher = blake2::Blake2s256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(PreparedFile {
        path: path.to_owned(),
        name,
        size,
        digest: hasher.finalize().into(),
    })
}

impl PreparedFile {
    /// The `FileOffer` for this file under transfer id `id`.
    pub fn offer(&self, id: u32) -> ControlMessage {
        ControlMessage::FileOffer {
            id,
            name: self.name.clone(),
            size: self.size,
            blake2s: self.digest,
        }
    }
}

/// The receiver's acknowledgements of one outgoing transfer, as fed to
/// [`OutgoingTransfers::handle`]: given with [`OutgoingEvent::Accepted`],
/// passed to [`send_file`].
#[derive(Debug, Clone)]
pub struct Acks(watch::Receiver<u64>);

impl Acks {
    /// Bytes acknowledged so far.
    pub fn acked(&self) -> u64 {
        *self.0.borrow()
    }
}

/// Sends an accepted file: every chunk, then `FileDone` (or `FileCancel`
/// when `cancel` is set or the transfer was forgotten by
/// [`OutgoingTransfers`]). `progress` gets the bytes sent so far after each
/// chunk. Waits whenever the control queue is full, and whenever the next
/// chunk would leave more than [`WINDOW`] bytes unacknowledged in `acks`
/// (for at most [`ACK_TIMEOUT`] without progress: then `FileCancel` and
/// [`SendError::Stalled`]).
pub async fn send_file(
    ctl: &ControlSender,
    id: u32,
    file: &PreparedFile,
    cancel: &AtomicBool,
    mut acks: Acks,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<(), SendError> {
    let io = |source| SendError::Io {
        path: file.path.clone(),
        source,
    };
    let mut f = std::fs::File::open(&file.path).map_err(io)?;
    let mut offset = 0u64;
    let mut buf = vec![0u8; MAX_FILE_CHUNK];
    while offset < file.size {
        if cancel.load(Ordering::SeqCst) {
            ctl.send(ControlMessage::FileCancel { id }).await?;
            return Err(SendError::Cancelled);
        }
        let want = usize::try_from((file.size - offset).min(MAX_FILE_CHUNK as u64))
            .unwrap_or(MAX_FILE_CHUNK);
        if let Err(e) = wait_for_window(&mut acks, offset, want as u64, cancel).await {
            ctl.send(ControlMessage::FileCancel { id }).await?;
            return Err(e);
        }
        // A 16 KiB read from a local file: short enough to do inline.
        let n = f.read(&mut buf[..want]).map_err(io)?;
        if n == 0 {
            ctl.send(ControlMessage::FileCancel { id }).await?;
            return Err(SendError::Changed(file.path.clone()));
        }
        ctl.send(ControlMessage::FileChunk {
            id,
            offset,
            data: buf[..n].to_vec(),
        })
        .await?;
        offset += n as u64;
        progress(offset);
    }
    ctl.send(ControlMessage::FileDone { id }).await?;
    Ok(())
}

/// Waits until sending `want` more bytes after `offset` keeps at most
/// [`WINDOW`] bytes unacknowledged. An ack beyond `offset` counts as
/// `offset` (a receiver cannot open the window wider by lying).
async fn wait_for_window(
    acks: &mut Acks,
    offset: u64,
    want: u64,
    cancel: &AtomicBool,
) -> Result<(), SendError> {
    let mut best = acks.acked().min(offset);
    let mut deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
    loop {
        let acked = acks.0.borrow_and_update().min(offset);
        if offset - acked + want <= WINDOW {
            return Ok(());
        }
        if cancel.load(Ordering::SeqCst) {
            return Err(SendError::Cancelled);
        }
        if acked > best {
            best = acked;
            deadline = tokio::time::Instant::now() + ACK_TIMEOUT;
        }
        match tokio::time::timeout_at(deadline, acks.0.changed()).await {
            Ok(Ok(())) => {}
            // The bookkeeping forgot the transfer (refused, cancelled).
            Ok(Err(_)) => return Err(SendError::Cancelled),
            Err(_) => return Err(SendError::Stalled(ACK_TIMEOUT)),
        }
    }
}

/// The state of an outgoing transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingState {
    /// Offered; waiting for the peer's answer.
    Offered,
    /// Accepted; being sent.
    Sending,
}

/// What an answer from the peer means for an outgoing transfer.
#[derive(Debug, Clone)]
pub enum OutgoingEvent {
    /// The peer accepted: start [`send_file`] with this file, cancel flag
    /// and acknowledgements.
    Accepted(u32, PreparedFile, Arc<AtomicBool>, Acks),
    /// The peer refused the offer.
    Refused(u32, PreparedFile),
    /// The peer cancelled while receiving (or refused the data).
    Cancelled(u32, PreparedFile),
}

#[derive(Debug)]
struct Outgoing {
    file: PreparedFile,
    state: OutgoingState,
    cancel: Arc<AtomicBool>,
    /// Bytes the receiver acknowledged (never decreases, never beyond the size).
    acked: watch::Sender<u64>,
}

/// Bookkeeping of the files this side offered.
#[derive(Debug, Default)]
pub struct OutgoingTransfers {
    next_id: u32,
    live: HashMap<u32, Outgoing>,
}

impl OutgoingTransfers {
    /// No transfer yet; ids start at 1.
    pub fn new() -> Self {
        Self::starting_at(1)
    }

    /// No transfer yet; ids start at `first` (the customer's side uses the
    /// upper half of the id space so that both directions' ids differ).
    pub fn starting_at(first: u32) -> Self {
        OutgoingTransfers {
            next_id: first.max(1),
            live: HashMap::new(),
        }
    }

    /// Registers an offer and returns its id and the `FileOffer` to send.
    pub fn offer(&mut self, file: PreparedFile) -> (u32, ControlMessage) {
        let id = self.next_id.max(1);
        self.next_id = id.wrapping_add(1);
        let msg = file.offer(id);
        self.live.insert(
            id,
            Outgoing {
                file,
                state: OutgoingState::Offered,
                cancel: Arc::new(AtomicBool::new(false)),
                acked: watch::Sender::new(0),
            },
        );
        (id, msg)
    }

    /// The ids of every live transfer.
    pub fn ids(&self) -> Vec<u32> {
        self.live.keys().copied().collect()
    }

    /// The state of transfer `id`.
    pub fn state(&self, id: u32) -> Option<OutgoingState> {
        self.live.get(&id).map(|o| o.state)
    }

    /// Asks a running transfer to stop (the sender sends `FileCancel`); an
    /// offer not yet accepted is withdrawn: returns the `FileCancel` to send.
    pub fn cancel(&mut self, id: u32) -> Option<ControlMessage> {
        let o = self.live.get(&id)?;
        match o.state {
            OutgoingState::Sending => {
                o.cancel.store(true, Ordering::SeqCst);
                // Wakes a sender waiting for acks.
                o.acked.send_modify(|_| {});
                None
            }
            OutgoingState::Offered => {
                self.live.remove(&id);
                Some(ControlMessage::FileCancel { id })
            }
        }
    }

    /// Forgets a finished transfer.
    pub fn finished(&mut self, id: u32) -> Option<PreparedFile> {
        self.live.remove(&id).map(|o| o.file)
    }

    /// Feeds one received message; answers about our offers give an event,
    /// anything else `None`.
    pub fn handle(&mut self, msg: &ControlMessage) -> Option<OutgoingEvent> {
        match msg {
            ControlMessage::FileAccept { id } => {
                let o = self.live.get_mut(id)?;
                if o.state != OutgoingState::Offered {
                    return None;
                }
                o.state = OutgoingState::Sending;
                Some(OutgoingEvent::Accepted(
                    *id,
                    o.file.clone(),
                    o.cancel.clone(),
                    Acks(o.acked.subscribe()),
                ))
            }
            ControlMessage::FileAck { id, received } => {
                // Only for a file being sent; an ack that goes backwards or
                // beyond the file's size is ignored (send_file also never
                // counts more than it sent).
                let o = self.live.get(id)?;
                if o.state == OutgoingState::Sending && *received <= o.file.size {
                    o.acked.send_if_modified(|a| {
                        let more = *received > *a;
                        if more {
                            *a = *received;
                        }
                        more
                    });
                }
                None
            }
            ControlMessage::FileRefuse { id } => {
                let o = self.live.remove(id)?;
                o.cancel.store(true, Ordering::SeqCst);
                Some(OutgoingEvent::Refused(*id, o.file))
            }
            ControlMessage::FileCancel { id } => {
                // Only ours when we are sending (ids are per direction, and a
                // cancel of an incoming transfer is handled by the receiver).
                match self.live.get(id) {
                    Some(o) if o.state == OutgoingState::Sending => {
                        let o = self.live.remove(id)?;
                        o.cancel.store(true, Ordering::SeqCst);
                        Some(OutgoingEvent::Cancelled(*id, o.file))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Lowercase hex of a digest (for logs and events).
pub fn digest_hex(d: &[u8; 32]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(64);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_names_and_digests() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        std::fs::write(&p, vec![7u8; 40_000]).unwrap();
        let f = prepare(&p).unwrap();
        assert_eq!(f.size, 40_000);
        assert_eq!(f.digest, crate::control::file_digest(&vec![7u8; 40_000]));
        assert!(matches!(prepare(dir.path()), Err(SendError::NotAFile(_))));
        assert!(matches!(
            prepare(&dir.path().join("missing")),
            Err(SendError::Io { .. })
        ));
    }

    #[test]
    fn outgoing_states() {
        let file = PreparedFile {
            path: "x".into(),
            name: FileName::new("x").unwrap(),
            size: 1,
            digest: [0; 32],
        };
        let mut t = OutgoingTransfers::new();
        let (a, _) = t.offer(file.clone());
        let (b, _) = t.offer(file.clone());
        assert_ne!(a, b);
        // A cancel for an offer we did not start sending is not ours.
        assert!(t.handle(&ControlMessage::FileCancel { id: a }).is_none());
        assert!(matches!(
            t.handle(&ControlMessage::FileAccept { id: a }),
            Some(OutgoingEvent::Accepted(..))
        ));
        assert_eq!(t.state(a), Some(OutgoingState::Sending));
        // A second accept does nothing.
        assert!(t.handle(&ControlMessage::FileAccept { id: a }).is_none());
        assert!(matches!(
            t.handle(&ControlMessage::FileRefuse { id: b }),
            Some(OutgoingEvent::Refused(..))
        ));
        assert_eq!(t.state(b), None);
        assert!(matches!(
            t.handle(&ControlMessage::FileCancel { id: a }),
            Some(OutgoingEvent::Cancelled(..))
        ));
        let (c, _) = t.offer(file);
        assert_eq!(t.cancel(c), Some(ControlMessage::FileCancel { id: c }));
        assert_eq!(t.state(c), None);
    }

    /// An accepted transfer of `f`: the bookkeeping and the sender's acks.
    fn accepted(f: &PreparedFile) -> (OutgoingTransfers, Acks, u32) {
        let mut t = OutgoingTransfers::new();
        let (id, _) = t.offer(f.clone());
        match t.handle(&ControlMessage::FileAccept { id }) {
            Some(OutgoingEvent::Accepted(_, _, _, acks)) => (t, acks, id),
            other => panic!("{other:?}"),
        }
    }

    fn big_file(dir: &Path, len: usize) -> (PreparedFile, Vec<u8>) {
        let p = dir.join("big");
        let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&p, &content).unwrap();
        (prepare(&p).unwrap(), content)
    }

    /// Receives what is queued now: the chunks' data goes to `got`, the
    /// other messages are returned.
    fn drain(
        rx: &mut tokio::sync::mpsc::Receiver<ControlMessage>,
        got: &mut Vec<u8>,
    ) -> Vec<ControlMessage> {
        let mut other = Vec::new();
        while let Ok(m) = rx.try_recv() {
            match m {
                ControlMessage::FileChunk { data, .. } => got.extend(data),
                m => other.push(m),
            }
        }
        other
    }

    #[tokio::test]
    async fn keeps_at_most_a_window_unacknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let len = WINDOW as usize * 3 + 1000;
        let (f, content) = big_file(dir.path(), len);
        let (mut t, acks, id) = accepted(&f);
        // A queue far larger than the file: only the window limits the sender.
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let ctl = ControlSender::for_test(tx);
        let file = f.clone();
        let task = tokio::spawn(async move {
            let cancel = AtomicBool::new(false);
            send_file(&ctl, id, &file, &cancel, acks, &|_| {}).await
        });
        let mut got = Vec::new();
        let mut other = Vec::new();
        let mut acked = 0u64;
        while got.len() < len {
            // Let the sender run until it waits for an ack.
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            other.extend(drain(&mut rx, &mut got));
            let in_flight = got.len() as u64 - acked;
            assert!(in_flight <= WINDOW, "{in_flight} bytes unacknowledged");
            assert!(
                in_flight > 0 || got.len() == len,
                "the sender stopped early"
            );
            // Hostile acks are ignored: beyond the size, unknown id.
            assert!(
                t.handle(&ControlMessage::FileAck {
                    id,
                    received: u64::MAX
                })
                .is_none()
            );
            assert!(
                t.handle(&ControlMessage::FileAck {
                    id: id + 1,
                    received: 1
                })
                .is_none()
            );
            acked = got.len() as u64;
            t.handle(&ControlMessage::FileAck {
                id,
                received: acked,
            });
        }
        task.await.unwrap().unwrap();
        other.extend(drain(&mut rx, &mut got));
        assert_eq!(got, content);
        assert_eq!(other, [ControlMessage::FileDone { id }]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_receiver_stalls_the_sender_then_it_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let (f, _) = big_file(dir.path(), WINDOW as usize * 2);
        let (_t, acks, id) = accepted(&f);
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let ctl = ControlSender::for_test(tx);
        let cancel = AtomicBool::new(false);
        let r = send_file(&ctl, id, &f, &cancel, acks, &|_| {}).await;
        assert!(
            matches!(r, Err(SendError::Stalled(d)) if d == ACK_TIMEOUT),
            "{r:?}"
        );
        let mut got = Vec::new();
        assert_eq!(
            drain(&mut rx, &mut got),
            [ControlMessage::FileCancel { id }]
        );
        assert_eq!(got.len() as u64, WINDOW);
    }

    #[tokio::test]
    async fn cancel_and_refusal_wake_a_waiting_sender() {
        let dir = tempfile::tempdir().unwrap();
        let (f, _) = big_file(dir.path(), WINDOW as usize * 2);
        for peer_cancels in [false, true] {
            let (mut t, acks, id) = accepted(&f);
            let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
            let ctl = ControlSender::for_test(tx);
            let file = f.clone();
            let cancel = match t.handle(&ControlMessage::FileAccept { id }) {
                None => t.live[&id].cancel.clone(),
                other => panic!("{other:?}"),
            };
            let task =
                tokio::spawn(
                    async move { send_file(&ctl, id, &file, &cancel, acks, &|_| {}).await },
                );
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            if peer_cancels {
                assert!(t.handle(&ControlMessage::FileCancel { id }).is_some());
            } else {
                assert_eq!(t.cancel(id), None);
            }
            assert!(matches!(task.await.unwrap(), Err(SendError::Cancelled)));
            let mut got = Vec::new();
            assert_eq!(
                drain(&mut rx, &mut got),
                [ControlMessage::FileCancel { id }]
            );
            assert_eq!(got.len() as u64, WINDOW);
        }
    }

    #[tokio::test]
    async fn sends_chunks_then_done_or_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let content: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        std::fs::write(&p, &content).unwrap();
        let f = prepare(&p).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let ctl = ControlSender::for_test(tx);
        let cancel = AtomicBool::new(false);
        // Smaller than the window: no ack needed.
        send_file(&ctl, 3, &f, &cancel, accepted(&f).1, &|_| {})
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut incoming = crate::control::IncomingTransfers::new(1 << 20, 1);
        incoming.handle(&f.offer(3)).unwrap();
        incoming.accept(3).unwrap();
        while let Ok(m) = rx.try_recv() {
            match incoming.handle(&m).unwrap() {
                Some(crate::control::TransferEvent::Data { data, .. }) => got.extend(data),
                Some(crate::control::TransferEvent::Complete { .. }) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, content);
        cancel.store(true, Ordering::SeqCst);
        assert!(matches!(
            send_file(&ctl, 4, &f, &cancel, accepted(&f).1, &|_| {}).await,
            Err(SendError::Cancelled)
        ));
        assert_eq!(rx.try_recv().unwrap(), ControlMessage::FileCancel { id: 4 });
    }
}
