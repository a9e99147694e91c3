//! MIT-SHM segments backed by a memfd: the X server writes the image into
//! memory we share with it, so a capture costs no copy through the socket.
//!
//! The only `unsafe` of the crate lives here: mapping the memfd.

use std::fs::File;

use rustix::fs::{MemfdFlags, ftruncate, memfd_create};
use x11rb::connection::Connection;
use x11rb::protocol::shm;

use crate::platform::PlatformError;

/// A shared-memory segment attached to the X server.
pub struct ShmSegment {
    seg: shm::Seg,
    map: memmap2::Mmap,
}

impl std::fmt::Debug for ShmSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShmSegment({:#x}, {} bytes)", self.seg, self.map.len())
    }
}

impl ShmSegment {
    /// Creates a segment of `size` bytes and attaches it (read-write for
    /// the server). Fails when the server cannot take the file descriptor
    /// (e.g. a remote display).
    pub fn new(conn: &impl Connection, size: usize) -> Result<Self, PlatformError> {
        let size = size.max(4096);
        let fd =
            memfd_create("remoto-capture", MemfdFlags::CLOEXEC).map_err(std::io::Error::from)?;
        ftruncate(&fd, size as u64).map_err(std::io::Error::from)?;
        let for_server = fd.try_clone()?;
        let file = File::from(fd);
        #[allow(unsafe_code)]
        // SAFETY: the mapping is of a private memfd we just sized to `size`
        // bytes; it is never truncated afterwards, so every mapped page stays
        // backed. Only the X server writes to it, and only while it serves a
        // ShmGetImage request: we read the bytes after its reply has arrived
        // (see `ShmSegment::data`), so no read races with a write.
        let map = unsafe { memmap2::MmapOptions::new().len(size).map(&file)? };
        let seg = conn.generate_id()?;
        shm::attach_fd(conn, seg, for_server, false)?.check()?;
        Ok(Self { seg, map })
    }

    /// The segment's X id.
    pub fn seg(&self) -> shm::Seg {
        self.seg
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True for an empty segment (never: segments have at least a page).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The segment's bytes; call only after the reply of the ShmGetImage
    /// that filled them.
    pub fn data(&self) -> &[u8] {
        &self.map
    }

    /// Detaches the segment from the server (the memory goes with `self`).
    pub fn detach(self, conn: &impl Connection) -> Result<(), PlatformError> {
        shm::detach(conn, self.seg)?;
        Ok(())
    }
}
