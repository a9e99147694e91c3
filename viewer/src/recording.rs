//! Session recordings in the FBS 001.000 format (rfbproxy, TightVNC's
//! rfbplayer, vncrec), playback and export.
//!
//! # Format
//!
//! ```text
//! "FBS 001.000\n"                      12 bytes (readers accept "FBS 001.ddd\n")
//! then blocks, each:
//!   u32 BE  length   number of data bytes
//!   data    length bytes, then zero padding to a multiple of 4
//!   u32 BE  timestamp, milliseconds since the recording started
//! ```
//!
//! The data is the server→client RFB byte stream exactly as the viewer
//! received it, handshake included (`RFB 003.008\n`, security types,
//! SecurityResult, ServerInit, then the messages), so that a client state
//! machine can replay it. The replaying client's own output is ignored.
//!
//! [`FbsWriter`] records; [`FbsReader`] reads blocks with bounds checks (a
//! hostile or truncated file gives a typed [`RecordingError`], never a panic
//! or an unbounded allocation); [`Player`] feeds the blocks to a
//! [`ReplayClient`] (the RFB client state machine); [`export_png`] writes
//! PNG frames at a fixed interval, always including the last frame, and
//! [`export_video`] pipes raw frames into `ffmpeg` when it is installed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rfb::Framebuffer;

/// The file signature written by [`FbsWriter`].
pub const FBS_MAGIC: &[u8; 12] = b"FBS 001.000\n";
/// Largest block accepted when reading (a hostile file cannot make us
/// allocate more than this for one block).
pub const MAX_BLOCK_LEN: u32 = 64 * 1024 * 1024;

/// Errors of recording, reading, playing and exporting.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// I/O error on a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// I/O error on a stream.
    #[error("{0}")]
    Stream(#[from] io::Error),
    /// The file does not start with an FBS 001 signature.
    #[error("not an FBS 001 recording (bad signature)")]
    BadSignature,
    /// A block's length is beyond the limit or beyond the end of the file.
    #[error("block at offset {offset}: length {len} is beyond {what}")]
    BlockTooLong {
        /// Offset of the block's length field.
        offset: u64,
        /// The announced length.
        len: u32,
        /// "the limit" or "the end of the file".
        what: &'static str,
    },
    /// The file ends inside a block.
    #[error("recording truncated inside the block at offset {offset}")]
    Truncated {
        /// Offset of the block's length field.
        offset: u64,
    },
    /// The replaying client rejected the stream.
    #[error("replay failed at {at_ms} ms: {message}")]
    Replay {
        /// Timestamp of the block.
        at_ms: u32,
        /// The client's error.
        message: String,
    },
    /// The recording holds no picture (no ServerInit reached).
    #[error("the recording holds no frame")]
    NoFrame,
    /// PNG encoding failed.
    #[error("writing {path}: {message}")]
    Png {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        message: String,
    },
    /// ffmpeg is missing or failed.
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
    /// A recording name that is not usable as a file name.
    #[error("recording name {0:?} is not usable as a file name")]
    InvalidName(String),
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> RecordingError + '_ {
    move |source| RecordingError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes an FBS recording.
#[derive(Debug)]
pub struct FbsWriter<W: Write> {
    out: W,
    bytes: u64,
}

impl FbsWriter<BufWriter<File>> {
    /// Creates a new recording file (never overwrites: `create_new`).
    pub fn create(path: &Path) -> Result<Self, RecordingError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_at(path))?;
        Self::new(BufWriter::new(file))
    }

    /// Creates `dir/<name>.fbs` (directory created if missing); `name` may
    /// hold letters, digits, '-', '_' and '.'.
    pub fn create_in(dir: &Path, name: &str) -> Result<(Self, PathBuf), RecordingError> {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name.len() <= 128
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        if !ok {
            return Err(RecordingError::InvalidName(name.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let path = dir.join(format!("{name}.fbs"));
        Ok((Self::create(&path)?, path))
    }

    /// Flushes and syncs the file to disk.
    pub fn finish(mut self) -> Result<(), RecordingError> {
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(())
    }
}

impl<W: Write> FbsWriter<W> {
    /// Starts a recording on any writer (writes the signature).
    pub fn new(mut out: W) -> Result<Self, RecordingError> {
        out.write_all(FBS_MAGIC)?;
        out.flush()?;
        Ok(Self {
            out,
            bytes: FBS_MAGIC.len() as u64,
        })
    }

    /// Records bytes received from the server, `elapsed` after the start
    /// (one block, flushed). Data longer than [`MAX_BLOCK_LEN`] is split.
    pub fn write(&mut self, data: &[u8], elapsed: Duration) -> Result<(), RecordingError> {
        let ts = u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX);
        for chunk in data.chunks(MAX_BLOCK_LEN as usize) {
            let len = chunk.len() as u32;
            self.out.write_all(&len.to_be_bytes())?;
            self.out.write_all(chunk)?;
            let pad = (4 - chunk.len() % 4) % 4;
            self.out.write_all(&[0u8; 3][..pad])?;
            self.out.write_all(&ts.to_be_bytes())?;
            self.bytes += 8 + chunk.len() as u64 + pad as u64;
        }
        self.out.flush()?;
        Ok(())
    }

    /// Bytes written so far, signature included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One block of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Milliseconds since the start.
    pub timestamp_ms: u32,
    /// Server→client bytes.
    pub data: Vec<u8>,
}

/// Reads the blocks of an FBS recording, checking every length.
#[derive(Debug)]
pub struct FbsReader<R: Read> {
    input: R,
    offset: u64,
    remaining: Option<u64>,
    done: bool,
}

impl FbsReader<BufReader<File>> {
    /// Opens a recording file (the file size bounds every block).
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let file = File::open(path).map_err(io_at(path))?;
        let size = file.metadata().map_err(io_at(path))?.len();
        Self::with_size(BufReader::new(file), Some(size))
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> FbsReader<R> {
    /// Reads the signature from a stream of unknown size.
    pub fn new(input: R) -> Result<Self, RecordingError> {
        Self::with_size(input, None)
    }

    /// Reads the signature from a stream of `size` bytes in total.
    pub fn with_size(mut input: R, size: Option<u64>) -> Result<Self, RecordingError> {
        let mut sig = [0u8; 12];
        if read_full(&mut input, &mut sig)? != 12
            || &sig[..8] != b"FBS 001."
            || !sig[8..11].iter().all(u8::is_ascii_digit)
            || sig[11] != b'\n'
        {
            return Err(RecordingError::BadSignature);
        }
        Ok(Self {
            input,
            offset: 12,
            remaining: size.map(|s| s.saturating_sub(12)),
            done: false,
        })
    }

    /// The next block, `Ok(None)` at a clean end of file.
    pub fn next_block(&mut self) -> Result<Option<Block>, RecordingError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut len_bytes = [0u8; 4];
        let n = read_full(&mut self.input, &mut len_bytes)?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        self.done = true; // until the block is complete
        if n < 4 {
            return Err(RecordingError::Truncated { offset: start });
        }
        let len = u32::from_be_bytes(len_bytes);
        if len > MAX_BLOCK_LEN {
            return Err(RecordingError::BlockTooLong {
                offset: start,
                len,
                what: "the limit",
            });
        }
        let padded = u64::from(len).div_ceil(4) * 4;
        if let Some(rem) = self.remaining
            && 4 + padded + 4 > rem
        {
            return Err(if u64::from(len) + 8 > rem {
                RecordingError::BlockTooLong {
                    offset: start,
                    len,
                    what: "the end of the file",
                }
            } else {
                RecordingError::Truncated { offset: start }
            });
        }
        let mut data = vec![0u8; padded as usize];
        if read_full(&mut self.input, &mut data)? != data.len() {
            return Err(RecordingError::Truncated { offset: start });
        }
        data.truncate(len as usize);
        let mut ts = [0u8; 4];
        if read_full(&mut self.input, &mut ts)? != 4 {
            return Err(RecordingError::Truncated { offset: start });
        }
        let used = 8 + padded;
        self.offset += used;
        self.remaining = self.remaining.map(|r| r.saturating_sub(used));
        self.done = false;
        Ok(Some(Block {
            timestamp_ms: u32::from_be_bytes(ts),
            data,
        }))
    }
}

impl<R: Read> Iterator for FbsReader<R> {
    type Item = Result<Block, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// An RFB client state machine that can replay a recorded server stream.
/// It must not need to send anything: whatever it would send is dropped.
pub trait ReplayClient {
    /// Feeds server→client bytes.
    fn replay(&mut self, data: &[u8]) -> Result<(), String>;
    /// The framebuffer, once ServerInit was seen.
    fn replay_framebuffer(&self) -> Option<&Framebuffer>;
}

impl ReplayClient for rfb::ClientSession {
    fn replay(&mut self, data: &[u8]) -> Result<(), String> {
        let result = self.receive(data).map_err(|e| e.to_string());
        // A replayed client sends nothing: its output and events are dropped.
        drop(self.take_output());
        while self.poll_event().is_some() {}
        result
    }

    fn replay_framebuffer(&self) -> Option<&Framebuffer> {
        self.is_connected().then(|| self.framebuffer())
    }
}

/// The client to replay our viewer's recordings with: the same
/// [`rfb::ClientConfig`] the live session used (default: ours), because the
/// recorded rectangles are in the pixel format that client asked for.
pub fn replay_client(config: rfb::ClientConfig) -> rfb::ClientSession {
    rfb::ClientSession::new(config)
}

/// Plays a recording through a [`ReplayClient`].
#[derive(Debug)]
pub struct Player<R: Read, C: ReplayClient> {
    reader: FbsReader<R>,
    client: C,
    position_ms: u32,
}

impl<C: ReplayClient> Player<BufReader<File>, C> {
    /// Opens a recording file.
    pub fn open(path: &Path, client: C) -> Result<Self, RecordingError> {
        Ok(Self::new(FbsReader::open(path)?, client))
    }
}

impl<R: Read, C: ReplayClient> Player<R, C> {
    /// A player over a reader.
    pub fn new(reader: FbsReader<R>, client: C) -> Self {
        Self {
            reader,
            client,
            position_ms: 0,
        }
    }

    /// Applies the next block; returns its timestamp, or `None` at the end.
    pub fn step(&mut self) -> Result<Option<u32>, RecordingError> {
        let Some(block) = self.reader.next_block()? else {
            return Ok(None);
        };
        // Timestamps never go backwards on the timeline.
        let at = block.timestamp_ms.max(self.position_ms);
        self.client
            .replay(&block.data)
            .map_err(|message| RecordingError::Replay { at_ms: at, message })?;
        self.position_ms = at;
        Ok(Some(at))
    }

    /// Timestamp of the last applied block.
    pub fn position_ms(&self) -> u32 {
        self.position_ms
    }

    /// The replayed framebuffer.
    pub fn framebuffer(&self) -> Option<&Framebuffer> {
        self.client.replay_framebuffer()
    }

    /// The client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Calls `frame(at_ms, framebuffer)` at 0, `every`, 2·`every`, … (the
    /// picture after every block recorded before that time; times before the
    /// first picture are skipped) and once more for the final picture if it
    /// changed after the last call. `every` of zero means after every
    /// block. Returns the number of calls.
    pub fn sample<F>(&mut self, every: Duration, mut frame: F) -> Result<usize, RecordingError>
    where
        F: FnMut(u32, &Framebuffer) -> Result<(), RecordingError>,
    {
        let every_ms = u32::try_from(every.as_millis()).unwrap_or(u32::MAX);
        let mut next_sample: u64 = 0;
        let mut count = 0usize;
        let mut dirty = false;
        while let Some(block) = self.reader.next_block()? {
            let at = block.timestamp_ms.max(self.position_ms);
            if every_ms > 0 {
                // Samples strictly before this block show the state so far.
                while next_sample < u64::from(at) {
                    if let Some(fb) = self.client.replay_framebuffer() {
                        frame(next_sample as u32, fb)?;
                        count += 1;
                    }
                    next_sample += u64::from(every_ms);
                }
            }
            self.client
                .replay(&block.data)
                .map_err(|message| RecordingError::Replay { at_ms: at, message })?;
            self.position_ms = at;
            dirty = true;
            if every_ms == 0
                && let Some(fb) = self.client.replay_framebuffer()
            {
                frame(at, fb)?;
                count += 1;
                dirty = false;
            }
        }
        match self.client.replay_framebuffer() {
            Some(fb) if dirty || count == 0 => {
                frame(self.position_ms, fb)?;
                count += 1;
            }
            Some(_) => {}
            None => return Err(RecordingError::NoFrame),
        }
        Ok(count)
    }
}

/// Encodes a framebuffer as an RGB PNG file.
pub fn write_png(fb: &Framebuffer, path: &Path) -> Result<(), RecordingError> {
    let png_err = |e: png::EncodingError| RecordingError::Png {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let file = BufWriter::new(File::create(path).map_err(io_at(path))?);
    let mut enc = png::Encoder::new(file, u32::from(fb.width()), u32::from(fb.height()));
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(png_err)?;
    let data: Vec<u8> = fb
        .pixels()
        .iter()
        .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
        .collect();
    w.write_image_data(&data).map_err(png_err)?;
    w.finish().map_err(png_err)?;
    Ok(())
}

/// One exported frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFrame {
    /// Where it was written.
    pub path: PathBuf,
    /// Its time in the recording.
    pub at_ms: u32,
}

/// Writes `frame_NNNNNN_<ms>ms.png` files into `out_dir` every `every`, the
/// last frame always included; returns the frames in order.
pub fn export_png<C: ReplayClient>(
    fbs: &Path,
    out_dir: &Path,
    every: Duration,
    client: C,
) -> Result<Vec<ExportedFrame>, RecordingError> {
    std::fs::create_dir_all(out_dir).map_err(io_at(out_dir))?;
    let mut player = Player::open(fbs, client)?;
    let mut frames = Vec::new();
    player.sample(every, |at_ms, fb| {
        let path = out_dir.join(format!("frame_{:06}_{at_ms}ms.png", frames.len()));
        write_png(fb, &path)?;
        frames.push(ExportedFrame { path, at_ms });
        Ok(())
    })?;
    Ok(frames)
}

/// True when an `ffmpeg` program can be run.
pub fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Encodes the recording as a video at `fps` frames a second with ffmpeg
/// (raw frames on its stdin; the size is that of the first frame, later
/// frames of another size are cropped or padded with black).
pub fn export_video<C: ReplayClient>(
    fbs: &Path,
    out: &Path,
    fps: u32,
    client: C,
) -> Result<usize, RecordingError> {
    let fps = fps.clamp(1, 60);
    let mut player = Player::open(fbs, client)?;
    let mut child: Option<std::process::Child> = None;
    let mut size = (0u16, 0u16);
    let mut frame_buf: Vec<u8> = Vec::new();
    let result = player.sample(Duration::from_millis(1000 / u64::from(fps)), |_, fb| {
        if child.is_none() {
            // Even sizes for yuv420p.
            size = (fb.width() & !1, fb.height() & !1);
            if size.0 == 0 || size.1 == 0 {
                return Err(RecordingError::NoFrame);
            }
            let c = Command::new("ffmpeg")
                .args([
                    "-loglevel",
                    "error",
                    "-y",
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "bgr0",
                    "-s",
                ])
                .arg(format!("{}x{}", size.0, size.1))
                .args(["-r", &fps.to_string(), "-i", "-", "-pix_fmt", "yuv420p"])
                .arg(out)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| RecordingError::Ffmpeg(format!("cannot run ffmpeg: {e}")))?;
            child = Some(c);
        }
        frame_buf.clear();
        frame_buf.resize(usize::from(size.0) * usize::from(size.1) * 4, 0);
        let w = usize::from(size.0.min(fb.width()));
        for y in 0..usize::from(size.1.min(fb.height())) {
            let src = &fb.pixels()[y * usize::from(fb.width())..][..w];
            let dst = &mut frame_buf[y * usize::from(size.0) * 4..][..w * 4];
            for (d, p) in dst.chunks_exact_mut(4).zip(src) {
                d.copy_from_slice(&p.to_le_bytes());
            }
        }
        let stdin = child
            .as_mut()
            .and_then(|c| c.stdin.as_mut())
            .ok_or_else(|| RecordingError::Ffmpeg("no stdin".into()))?;
        stdin
            .write_all(&frame_buf)
            .map_err(|e| RecordingError::Ffmpeg(format!("writing frames: {e}")))
    });
    let Some(mut c) = child else {
        return result;
    };
    drop(c.stdin.take());
    let status = c
        .wait()
        .map_err(|e| RecordingError::Ffmpeg(e.to_string()))?;
    let frames = result?;
    if !status.success() {
        return Err(RecordingError::Ffmpeg(format!("exited with {status}")));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_padded_blocks() {
        let mut w = FbsWriter::new(Vec::new()).unwrap();
        w.write(b"RFB 003.008\n", Duration::from_millis(5)).unwrap();
        w.write(b"abcde", Duration::from_millis(70_000)).unwrap();
        let bytes = w.into_inner();
        assert_eq!(&bytes[..12], FBS_MAGIC);
        assert_eq!(&bytes[12..16], &[0, 0, 0, 12]);
        assert_eq!(&bytes[28..32], &5u32.to_be_bytes(), "first timestamp");
        assert_eq!(&bytes[32..36], &5u32.to_be_bytes(), "second length");
        assert_eq!(&bytes[36..44], b"abcde\0\0\0");
        assert_eq!(&bytes[44..48], &70_000u32.to_be_bytes());
        let blocks: Vec<Block> = FbsReader::with_size(&bytes[..], Some(bytes.len() as u64))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].data, b"abcde");
        assert_eq!(blocks[1].timestamp_ms, 70_000);
    }

    #[test]
    fn hostile_files_give_typed_errors() {
        assert!(matches!(
            FbsReader::new(&b"FBS 001"[..]),
            Err(RecordingError::BadSignature)
        ));
        assert!(matches!(
            FbsReader::new(&b"RFB 003.008\n"[..]),
            Err(RecordingError::BadSignature)
        ));
        let mut f = FBS_MAGIC.to_vec();
        f.extend_from_slice(&u32::MAX.to_be_bytes());
        let mut r = FbsReader::new(&f[..]).unwrap();
        assert!(matches!(
            r.next_block(),
            Err(RecordingError::BlockTooLong {
                what: "the limit",
                ..
            })
        ));
        assert!(r.next_block().unwrap().is_none());
        let mut f = FBS_MAGIC.to_vec();
        f.extend_from_slice(&1000u32.to_be_bytes());
        f.extend_from_slice(&[1, 2, 3, 4]);
        let len = f.len() as u64;
        let mut r = FbsReader::with_size(&f[..], Some(len)).unwrap();
        assert!(matches!(
            r.next_block(),
            Err(RecordingError::BlockTooLong {
                what: "the end of the file",
                ..
            })
        ));
        let mut r = FbsReader::new(&f[..]).unwrap();
        assert!(matches!(
            r.next_block(),
            Err(RecordingError::Truncated { offset: 12 })
        ));
        let mut f = FBS_MAGIC.to_vec();
        f.extend_from_slice(&[0, 0]);
        let mut r = FbsReader::new(&f[..]).unwrap();
        assert!(matches!(
            r.next_block(),
            Err(RecordingError::Truncated { .. })
        ));
    }
}
