// LAB 2: the room (lab-docs/room.md)
//! The ring of message slots, in POSIX shared memory.
//!
//! A message goes to every other user of the room. Writing its bytes down
//! every helper's pipe would copy it once per helper through the kernel;
//! instead the room writes it once into a *slot* of a memory region that
//! every helper has mapped too, and sends each helper only the slot's
//! number (a 8-byte [`Order::Slot`](super::records::Order::Slot)).
//!
//! The region is a POSIX shared-memory object: `shm_open` creates it under
//! a name (it appears as `/dev/shm/chat-room-PID`), `ftruncate` gives it its
//! size, and `mmap` with `MAP_SHARED` makes it memory of this process that
//! other processes mapping the same object see. The name is per room (its
//! process id), so two rooms on one machine never share a ring, and each
//! helper finds it from its parent's process id (`getppid`). The room
//! unlinks it when it ends; helpers map it read-only, so a broken helper
//! cannot write into it.
//!
//! Slot `i` sits at `i * SLOT_SIZE`: a native-endian `u32` length, then that
//! many bytes, a whole message `[TAG] TEXT\n`. Nobody locks a slot: the
//! pipes order everything. The room writes a slot only while no helper
//! holds it, then sends its number; a helper reads the slot only after the
//! number arrived, and the room reuses it only after every helper it went
//! to acked it. A `write` to a pipe and the `read` that returns those bytes
//! are system calls, which the compiler cannot move memory accesses across,
//! and the kernel makes what one process wrote before its `write` visible to
//! the one whose `read` returned it.

use std::collections::VecDeque;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use crate::protocol::MAX_LINE;
use crate::sys::{check, with_context};

/// The number of slots. A helper holds at most every slot, so at most
/// SLOTS orders of 8 bytes wait in its pipe, plus a few stop, go and idle
/// orders: 256 keeps that under 4096 bytes, the smallest capacity Linux
/// ever gives a pipe, so the room's write of an order never finds the pipe
/// full.
pub const SLOTS: usize = 256;

/// The most bytes of a message a slot holds: a piece of a line, its tag
/// `[255.255.255.255:65535] ` (24 bytes) and its `\n`, with room to spare.
pub const SLOT_BYTES: usize = MAX_LINE + 64;

/// The size of a slot: its length, then its bytes.
const SLOT_SIZE: usize = 4 + SLOT_BYTES;

/// The size of the whole shared-memory object.
pub const RING_BYTES: usize = SLOTS * SLOT_SIZE;

/// The name of the ring of the room whose process id is `room_pid`.
pub fn ring_name(room_pid: u32) -> String {
    format!("{RING_PREFIX}{room_pid}")
}

const RING_PREFIX: &str = "/chat-room-";

/// Removes the rings of rooms that are gone: a room killed by SIGKILL (as
/// graders and test harnesses end what they run) cannot remove its own, and
/// an object in `/dev/shm` is memory that stays taken until someone does.
/// A ring whose process id no longer exists is nobody's. Best effort: what
/// cannot be listed or removed (another user's) is left alone.
pub fn remove_stale_rings() {
    let Ok(entries) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    let prefix = &RING_PREFIX[1..];
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.strip_prefix(prefix)) else {
            continue;
        };
        if pid.parse::<u32>().is_err() || std::path::Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Ok(c_name) = c_name(&format!("{RING_PREFIX}{pid}")) {
            // SAFETY: `c_name` is a valid NUL-terminated string.
            unsafe { libc::shm_unlink(c_name.as_ptr()) };
        }
    }
}

/// The ring, mapped into this process. Dropping it unmaps it and, in the
/// room (which created it), removes the object.
#[derive(Debug)]
pub struct SlotRing {
    base: NonNull<u8>,
    name: CString,
    /// Whether this process created the object, and so removes it.
    owner: bool,
}

impl SlotRing {
    /// Creates the room's ring, `name` (see [`ring_name`]), readable and
    /// writable, empty.
    pub fn create(name: &str) -> io::Result<Self> {
        let name = c_name(name)?;
        // An object of that name can only be left over from an earlier room
        // that had our process id and was killed before it could remove it:
        // no other live process has our id. Remove it, so that O_EXCL below
        // can make sure the object we map is new, and ours alone.
        // SAFETY: `name` is a valid NUL-terminated string.
        unsafe { libc::shm_unlink(name.as_ptr()) };
        // TODO 17: Create the shared-memory object: `libc::shm_open` of
        //          `name.as_ptr()` with the flags `O_CREAT | O_EXCL | O_RDWR` and the mode `0o600`
        //          (only our user may open it), through `check`, and own the
        //          descriptor at once (`OwnedFd::from_raw_fd`). Give it its
        //          size with `libc::ftruncate(fd, RING_BYTES as libc::off_t)`
        //          (through `check`), then map it readable and writable:
        //          `map(&fd, libc::PROT_READ | libc::PROT_WRITE)`. The
        //          mapping stays once the descriptor is closed, so `fd` may
        //          then be dropped.
        // BEGIN SOLUTION
        // SAFETY: `name` is a valid NUL-terminated string; shm_open returns
        // a new descriptor or -1.
        let raw = check(
            unsafe {
                libc::shm_open(
                    name.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                    0o600,
                )
            },
            "create the shared-memory object",
        )?;
        // SAFETY: `raw` was just returned by shm_open: open, and ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        check(
            // SAFETY: ftruncate takes no pointers; `fd` is open.
            unsafe { libc::ftruncate(fd.as_raw_fd(), RING_BYTES as libc::off_t) },
            "size the shared-memory object",
        )?;
        let base = map(&fd, libc::PROT_READ | libc::PROT_WRITE)?;
        // END SOLUTION
        // STUB: let base: NonNull<u8> = todo!("TODO 17");
        Ok(Self {
            base,
            name,
            owner: true,
        })
    }

    /// Maps the ring of the room `name`, read-only: what a helper does.
    pub fn open(name: &str) -> io::Result<Self> {
        let c_name = c_name(name)?;
        // SAFETY: `c_name` is a valid NUL-terminated string.
        let raw = check(
            unsafe { libc::shm_open(c_name.as_ptr(), libc::O_RDONLY, 0) },
            &format!("open the shared-memory object {name}"),
        )?;
        // SAFETY: `raw` was just returned by shm_open: open, and ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let base = map(&fd, libc::PROT_READ)?;
        Ok(Self {
            base,
            name: c_name,
            owner: false,
        })
    }

    /// Writes `message` into `slot`. Only the room writes, and only into a
    /// slot that no helper holds.
    ///
    /// # Panics
    ///
    /// If `slot` is not below [`SLOTS`] or `message` is longer than
    /// [`SLOT_BYTES`]: the room never makes such a message.
    pub fn write(&mut self, slot: usize, message: &[u8]) {
        assert!(slot < SLOTS && message.len() <= SLOT_BYTES);
        assert!(self.owner, "only the room writes the ring");
        let start = self.slot_ptr(slot);
        // SLOT_BYTES fits in a u32.
        let len = (message.len() as u32).to_ne_bytes();
        // SAFETY: the slot lies inside the mapping (slot < SLOTS), which is
        // writable in the room, and is SLOT_SIZE bytes long: 4 for the
        // length, then room for SLOT_BYTES >= message.len().
        unsafe { std::ptr::copy_nonoverlapping(len.as_ptr(), start, 4) };
        // SAFETY: as above, the bytes after the length.
        unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), start.add(4), message.len()) };
    }

    /// Appends the message in `slot` to `out`.
    pub fn copy_out(&self, slot: usize, out: &mut VecDeque<u8>) -> io::Result<()> {
        if slot >= SLOTS {
            return Err(io::Error::other(format!("no slot {slot} in the ring")));
        }
        let start = self.slot_ptr(slot);
        let mut len = [0; 4];
        // SAFETY: the slot lies inside the mapping, which is readable, and
        // starts with its 4-byte length.
        unsafe { std::ptr::copy_nonoverlapping(start, len.as_mut_ptr(), 4) };
        let len = u32::from_ne_bytes(len) as usize;
        if len > SLOT_BYTES {
            return Err(io::Error::other(format!("slot {slot} says {len} bytes")));
        }
        // SAFETY: the `len` bytes after the length lie inside the slot
        // (len <= SLOT_BYTES), inside the mapping, which outlives `bytes`.
        let bytes = unsafe { std::slice::from_raw_parts(start.add(4), len) };
        out.extend(bytes);
        Ok(())
    }

    fn slot_ptr(&self, slot: usize) -> *mut u8 {
        // SAFETY: slot < SLOTS (checked by the callers), so the offset is
        // inside the mapping of RING_BYTES bytes.
        unsafe { self.base.as_ptr().add(slot * SLOT_SIZE) }
    }
}

impl Drop for SlotRing {
    fn drop(&mut self) {
        // SAFETY: `base` is the start of a mapping of RING_BYTES bytes that
        // this ring made and nothing else unmaps; no slice into it outlives
        // `copy_out`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), RING_BYTES) };
        if self.owner {
            // SAFETY: `name` is a valid NUL-terminated string.
            unsafe { libc::shm_unlink(self.name.as_ptr()) };
        }
    }
}

/// Maps the whole object `fd` with the protection `prot`, shared.
fn map(fd: &OwnedFd, prot: libc::c_int) -> io::Result<NonNull<u8>> {
    // SAFETY: a null hint lets the kernel choose the address; the object is
    // RING_BYTES long, and mmap returns a new mapping or MAP_FAILED.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            RING_BYTES,
            prot,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(with_context(
            io::Error::last_os_error(),
            "map the shared-memory object",
        ));
    }
    NonNull::new(base.cast()).ok_or_else(|| io::Error::other("mmap returned a null address"))
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::other("a shared-memory name holds a NUL byte"))
}

// Lab 2's test: behind lab 2's feature, as `tests/room` is, so that a
// student's `cargo test` is lab 1 alone (this test stops at the TODO of
// `create` until lab 2 is done).
#[cfg(all(test, feature = "room"))]
mod tests {
    use super::*;

    #[test]
    fn what_the_room_writes_a_helper_reads_and_the_object_goes_with_the_room() {
        let name = format!("/chat-room-test-{}", std::process::id());
        let mut room = SlotRing::create(&name).expect("create a ring");
        let helper = SlotRing::open(&name).expect("open the ring");
        room.write(3, b"[127.0.0.1:4000] hello\n");
        room.write(SLOTS - 1, b"");
        let mut out = VecDeque::new();
        helper.copy_out(3, &mut out).expect("slot 3");
        helper.copy_out(SLOTS - 1, &mut out).expect("the last slot");
        assert_eq!(out, b"[127.0.0.1:4000] hello\n");
        assert!(helper.copy_out(SLOTS, &mut out).is_err());
        let path = format!("/dev/shm{name}");
        assert!(std::path::Path::new(&path).exists());
        drop(helper);
        assert!(
            std::path::Path::new(&path).exists(),
            "a helper removes nothing"
        );
        drop(room);
        assert!(!std::path::Path::new(&path).exists(), "the room removes it");
    }
}
