//! Records a synthetic RFB session (handshake + ServerInit + raw rectangles,
//! split into blocks at awkward places), reads it back, exports PNG frames
//! and checks that the last PNG equals the final framebuffer.

use std::path::Path;
use std::time::Duration;

use rfb::{Framebuffer, Rect};
use viewer::recording::{self, FbsReader, FbsWriter, RecordingError, ReplayClient};

/// A minimal RFB 3.8 client for the test: security None, 32-bit
/// little-endian RGB888, Raw rectangles only.
#[derive(Default)]
struct RawClient {
    buf: Vec<u8>,
    state: u8,
    fb: Option<Framebuffer>,
}

impl RawClient {
    fn parse(&mut self) -> Result<bool, String> {
        let b = &self.buf;
        let need = |n: usize| b.len() >= n;
        let used = match self.state {
            0 if need(12) => {
                if &b[..12] != b"RFB 003.008\n" {
                    return Err("bad version".into());
                }
                12
            }
            1 if need(1) && need(1 + usize::from(b[0])) => 1 + usize::from(b[0]),
            2 if need(4) => 4,
            3 if need(24) => {
                let name = u32::from_be_bytes([b[20], b[21], b[22], b[23]]) as usize;
                if !need(24 + name) {
                    return Ok(false);
                }
                let w = u16::from_be_bytes([b[0], b[1]]);
                let h = u16::from_be_bytes([b[2], b[3]]);
                self.fb = Some(Framebuffer::new(w, h).map_err(|e| e.to_string())?);
                24 + name
            }
            4 if need(4) => {
                if b[0] != 0 {
                    return Err(format!("unexpected message {}", b[0]));
                }
                let n = usize::from(u16::from_be_bytes([b[2], b[3]]));
                let mut pos = 4;
                let mut rects = Vec::new();
                for _ in 0..n {
                    if !need(pos + 12) {
                        return Ok(false);
                    }
                    let v = |i: usize| u16::from_be_bytes([b[pos + i], b[pos + i + 1]]);
                    let r = Rect::new(v(0), v(2), v(4), v(6));
                    let len = r.area() * 4;
                    if !need(pos + 12 + len) {
                        return Ok(false);
                    }
                    let px: Vec<u32> = b[pos + 12..pos + 12 + len]
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], 0]))
                        .collect();
                    rects.push((r, px));
                    pos += 12 + len;
                }
                let fb = self.fb.as_mut().ok_or("no framebuffer")?;
                for (r, px) in rects {
                    if !fb.put(r, &px) {
                        return Err("rectangle outside".into());
                    }
                }
                self.buf.drain(..pos);
                return Ok(true);
            }
            _ => return Ok(false),
        };
        self.buf.drain(..used);
        self.state += 1;
        Ok(true)
    }
}

impl ReplayClient for RawClient {
    fn replay(&mut self, data: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(data);
        while self.parse()? {}
        Ok(())
    }

    fn replay_framebuffer(&self) -> Option<&Framebuffer> {
        self.fb.as_ref()
    }
}

const W: u16 = 64;
const H: u16 = 48;

fn handshake() -> Vec<u8> {
    let mut v = b"RFB 003.008\n".to_vec();
    v.extend_from_slice(&[1, 1]); // one security type: None
    v.extend_from_slice(&0u32.to_be_bytes()); // SecurityResult OK
    v.extend_from_slice(&W.to_be_bytes());
    v.extend_from_slice(&H.to_be_bytes());
    v.extend_from_slice(&[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
    v.extend_from_slice(&4u32.to_be_bytes());
    v.extend_from_slice(b"test");
    v
}

fn update(rects: &[(Rect, u32)], fb: &mut Framebuffer) -> Vec<u8> {
    let mut v = vec![0, 0];
    v.extend_from_slice(&(rects.len() as u16).to_be_bytes());
    for (r, colour) in rects {
        for n in [r.x, r.y, r.w, r.h] {
            v.extend_from_slice(&n.to_be_bytes());
        }
        v.extend_from_slice(&0i32.to_be_bytes());
        for i in 0..r.area() as u32 {
            let p = colour ^ ((i * 0x010203) & 0x00ff_ffff);
            v.extend_from_slice(&p.to_le_bytes());
        }
        let px: Vec<u32> = (0..r.area() as u32)
            .map(|i| colour ^ ((i * 0x010203) & 0x00ff_ffff))
            .collect();
        assert!(fb.put(*r, &px));
    }
    v
}

fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn rgb(fb: &Framebuffer) -> Vec<u8> {
    fb.pixels()
        .iter()
        .flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8])
        .collect()
}

#[test]
fn record_export_last_frame_equals_final_framebuffer() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Framebuffer::new(W, H).unwrap();
    // The stream, then what the picture is after each time.
    let mut stream: Vec<(u32, Vec<u8>)> = vec![(0, handshake())];
    stream.push((
        10,
        update(&[(Rect::new(0, 0, W, H), 0x102030)], &mut expected),
    ));
    let at_100 = expected.clone();
    stream.push((
        150,
        update(
            &[
                (Rect::new(5, 5, 20, 10), 0xff0000),
                (Rect::new(30, 20, 8, 8), 0x00ff00),
            ],
            &mut expected,
        ),
    ));
    let at_300 = expected.clone();
    stream.push((
        420,
        update(&[(Rect::new(60, 40, 4, 8), 0x0000ff)], &mut expected),
    ));
    let at_end = expected.clone();

    // Record it as a viewer would: chunks cut anywhere, even inside messages.
    let (mut writer, path) = FbsWriter::create_in(dir.path(), "session-1").unwrap();
    for (ts, bytes) in &stream {
        let mid = bytes.len() / 3;
        writer
            .write(&bytes[..mid], Duration::from_millis(u64::from(*ts)))
            .unwrap();
        writer
            .write(&bytes[mid..], Duration::from_millis(u64::from(*ts) + 1))
            .unwrap();
    }
    writer.finish().unwrap();
    assert!(
        matches!(FbsWriter::create(&path), Err(RecordingError::Io { .. })),
        "never overwrites"
    );

    // Read back: every byte, in order.
    let all: Vec<u8> = FbsReader::open(&path)
        .unwrap()
        .map(|b| b.unwrap().data)
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(
        all,
        stream
            .iter()
            .flat_map(|(_, b)| b.clone())
            .collect::<Vec<_>>()
    );

    // Export every 100 ms: frames at 0? (no picture yet before ServerInit → skipped),
    // 100, 200, 300, 400 and the final one at 421.
    let out = dir.path().join("frames");
    let frames = recording::export_png(
        &path,
        &out,
        Duration::from_millis(100),
        RawClient::default(),
    )
    .unwrap();
    let times: Vec<u32> = frames.iter().map(|f| f.at_ms).collect();
    assert_eq!(times, vec![100, 200, 300, 400, 421]);
    let check = |i: usize, fb: &Framebuffer| {
        let (w, h, px) = read_png(&frames[i].path);
        assert_eq!((w, h), (u32::from(W), u32::from(H)));
        assert!(px == rgb(fb), "frame {i} differs");
    };
    check(0, &at_100);
    check(2, &at_300);
    check(frames.len() - 1, &at_end);
}

#[test]
fn truncated_recording_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, path) = FbsWriter::create_in(dir.path(), "t").unwrap();
    writer.write(&handshake(), Duration::ZERO).unwrap();
    writer.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let r = recording::export_png(
        &path,
        &dir.path().join("o"),
        Duration::from_secs(1),
        RawClient::default(),
    );
    assert!(
        matches!(
            r,
            Err(RecordingError::Truncated { offset: 12 }
                | RecordingError::BlockTooLong { offset: 12, .. })
        ),
        "{r:?}"
    );
    assert!(matches!(
        FbsWriter::create_in(dir.path(), "../evil"),
        Err(RecordingError::InvalidName(_))
    ));
}

#[test]
fn video_export_with_ffmpeg_when_installed() {
    if !recording::ffmpeg_available() {
        eprintln!("skipped: ffmpeg not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut fb = Framebuffer::new(W, H).unwrap();
    let (mut writer, path) = FbsWriter::create_in(dir.path(), "v").unwrap();
    writer.write(&handshake(), Duration::ZERO).unwrap();
    writer
        .write(
            &update(&[(Rect::new(0, 0, W, H), 0x808080)], &mut fb),
            Duration::from_millis(500),
        )
        .unwrap();
    writer.finish().unwrap();
    let out = dir.path().join("v.mp4");
    let n = recording::export_video(&path, &out, 10, RawClient::default()).unwrap();
    assert!(n >= 5);
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
}

#[test]
fn replays_through_rfb_client_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Framebuffer::new(W, H).unwrap();
    let (mut writer, path) = FbsWriter::create_in(dir.path(), "c").unwrap();
    writer.write(&handshake(), Duration::ZERO).unwrap();
    let u1 = update(&[(Rect::new(0, 0, W, H), 0x334455)], &mut expected);
    let u2 = update(&[(Rect::new(3, 4, 10, 9), 0xabcdef)], &mut expected);
    writer.write(&u1[..7], Duration::from_millis(40)).unwrap();
    writer.write(&u1[7..], Duration::from_millis(41)).unwrap();
    writer.write(&u2, Duration::from_millis(900)).unwrap();
    writer.finish().unwrap();
    let client = recording::replay_client(rfb::ClientConfig::default());
    let frames = recording::export_png(
        &path,
        &dir.path().join("f"),
        Duration::from_millis(500),
        client,
    )
    .unwrap();
    let last = frames.last().unwrap();
    assert_eq!(last.at_ms, 900);
    let (w, h, px) = read_png(&last.path);
    assert_eq!((w, h), (u32::from(W), u32::from(H)));
    assert!(
        px == rgb(&expected),
        "last frame differs from the final framebuffer"
    );
}
