// LAB 2: the room (lab-docs/room.md)
//! What the room and a helper say to each other through their two pipes.
//!
//! A pipe carries bytes, not messages, just like a TCP socket: one `read`
//! may return half a record or many. So both directions use *records* that
//! say where they end: an 8-byte header, two native-endian `u32` (the
//! machine is the same on both ends), `kind` then `value`, and for a line
//! the line's bytes after it.
//!
//! From the room to a helper, on PIPE_IN (an [`Order`], always 8 bytes):
//!
//! | kind | value   | meaning                                                    |
//! | ---- | ------- | ---------------------------------------------------------- |
//! | 1    | slot    | a message waits in that slot of the ring: copy it, ack it  |
//! | 2    | 0       | stop reading your client (the ring is full)                |
//! | 3    | 0       | read your client again                                     |
//! | 4    | seconds | your client was idle: tell it so, then end                 |
//!
//! From a helper to the room, on PIPE_OUT (a [`Report`]):
//!
//! | kind | value   | then          | meaning                                  |
//! | ---- | ------- | ------------- | ---------------------------------------- |
//! | 1    | slot    | nothing       | I copied that slot: I no longer need it  |
//! | 2    | length  | length bytes  | my client sent this line (without `\n`)  |
//!
//! An order is 8 bytes, far less than `PIPE_BUF` (4096), so a write of one
//! is atomic: it is never split, and a pipe never holds a piece of one.
//! A line is at most [`MAX_LINE`] bytes, the pieces `framing` cuts.

use crate::protocol::MAX_LINE;

/// The size of a record's header, and of a whole [`Order`].
pub const HEADER: usize = 8;

const ORDER_SLOT: u32 = 1;
const ORDER_STOP: u32 = 2;
const ORDER_GO: u32 = 3;
const ORDER_IDLE: u32 = 4;
const REPORT_ACK: u32 = 1;
const REPORT_LINE: u32 = 2;

/// A record from the room to a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Copy the message in this slot of the ring to your client, then ack.
    Slot(u32),
    /// Stop reading your client until [`Order::Go`].
    Stop,
    /// Read your client again.
    Go,
    /// Your client sent no line for this many seconds: tell it, then end.
    Idle(u32),
}

/// A record from a helper to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report<'a> {
    /// The helper copied this slot: the room may reuse it once every other
    /// helper it went to has copied it too.
    Ack(u32),
    /// A line the client sent, without its `\n`.
    Line(&'a [u8]),
}

/// A record that breaks the format: the other side is broken, or not ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord(pub String);

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad record: {}", self.0)
    }
}

fn header(kind: u32, value: u32) -> [u8; HEADER] {
    let mut bytes = [0; HEADER];
    bytes[..4].copy_from_slice(&kind.to_ne_bytes());
    bytes[4..].copy_from_slice(&value.to_ne_bytes());
    bytes
}

/// The kind and value of the header at the start of `bytes`, if it is all
/// there.
fn read_header(bytes: &[u8]) -> Option<(u32, u32)> {
    let kind = u32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?);
    let value = u32::from_ne_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    Some((kind, value))
}

impl Order {
    /// The order's 8 bytes.
    pub fn encode(self) -> [u8; HEADER] {
        match self {
            Order::Slot(slot) => header(ORDER_SLOT, slot),
            Order::Stop => header(ORDER_STOP, 0),
            Order::Go => header(ORDER_GO, 0),
            Order::Idle(secs) => header(ORDER_IDLE, secs),
        }
    }
}

/// Appends an ack of `slot` to `out`.
pub fn push_ack(out: &mut Vec<u8>, slot: u32) {
    out.extend_from_slice(&header(REPORT_ACK, slot));
}

/// Appends a line record to `out`. `line` is at most [`MAX_LINE`] bytes
/// (what `framing` hands out).
pub fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    debug_assert!(line.len() <= MAX_LINE, "framing cuts lines at MAX_LINE");
    // MAX_LINE fits in a u32.
    out.extend_from_slice(&header(REPORT_LINE, line.len() as u32));
    out.extend_from_slice(line);
}

/// The bytes read from a pipe that do not make a whole record yet.
#[derive(Debug, Default)]
pub struct RecordBuffer {
    bytes: Vec<u8>,
}

impl RecordBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the bytes of a read.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// Calls `on_order` with each whole order held, in order, and keeps
    /// the bytes of an unfinished one.
    pub fn take_orders(&mut self, mut on_order: impl FnMut(Order)) -> Result<(), BadRecord> {
        let mut used = 0;
        let result = loop {
            let Some((kind, value)) = read_header(&self.bytes[used..]) else {
                break Ok(());
            };
            let order = match kind {
                ORDER_SLOT => Order::Slot(value),
                ORDER_STOP => Order::Stop,
                ORDER_GO => Order::Go,
                ORDER_IDLE => Order::Idle(value),
                _ => break Err(BadRecord(format!("unknown order kind {kind}"))),
            };
            used += HEADER;
            on_order(order);
        };
        self.bytes.drain(..used);
        result
    }

    /// Calls `on_report` with each whole report held, in order, and keeps
    /// the bytes of an unfinished one.
    pub fn take_reports(&mut self, mut on_report: impl FnMut(Report<'_>)) -> Result<(), BadRecord> {
        let mut used = 0;
        let result = loop {
            let rest = &self.bytes[used..];
            let Some((kind, value)) = read_header(rest) else {
                break Ok(());
            };
            match kind {
                REPORT_ACK => {
                    used += HEADER;
                    on_report(Report::Ack(value));
                }
                REPORT_LINE => {
                    let len = value as usize;
                    if len > MAX_LINE {
                        break Err(BadRecord(format!("a line of {len} bytes")));
                    }
                    let Some(line) = rest.get(HEADER..HEADER + len) else {
                        break Ok(());
                    };
                    used += HEADER + len;
                    on_report(Report::Line(line));
                }
                _ => break Err(BadRecord(format!("unknown report kind {kind}"))),
            }
        };
        self.bytes.drain(..used);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_come_out_as_they_went_in_whatever_the_reads() {
        let orders = [Order::Slot(7), Order::Stop, Order::Go, Order::Idle(30)];
        let bytes: Vec<u8> = orders.iter().flat_map(|order| order.encode()).collect();
        // One byte per read: every order is cut somewhere.
        let mut buffer = RecordBuffer::new();
        let mut seen = Vec::new();
        for byte in bytes.chunks(1) {
            buffer.extend(byte);
            buffer
                .take_orders(|order| seen.push(order))
                .expect("valid orders");
        }
        assert_eq!(seen, orders);
    }

    #[test]
    fn reports_come_out_as_they_went_in_whatever_the_reads() {
        let long = vec![b'x'; MAX_LINE];
        let mut bytes = Vec::new();
        push_line(&mut bytes, b"hello");
        push_ack(&mut bytes, 3);
        push_line(&mut bytes, b"");
        push_line(&mut bytes, &long);
        for chunk_size in [1, 5, 8, 13, bytes.len()] {
            let mut buffer = RecordBuffer::new();
            let mut seen = Vec::new();
            for chunk in bytes.chunks(chunk_size) {
                buffer.extend(chunk);
                buffer
                    .take_reports(|report| {
                        seen.push(match report {
                            Report::Ack(slot) => format!("ack {slot}"),
                            Report::Line(line) => format!("line {}", line.len()),
                        })
                    })
                    .expect("valid reports");
            }
            assert_eq!(seen, ["line 5", "ack 3", "line 0", "line 4096"]);
        }
    }

    #[test]
    fn a_bad_record_is_an_error() {
        let mut buffer = RecordBuffer::new();
        buffer.extend(&header(9, 0));
        assert!(buffer.take_orders(|_| {}).is_err());
        let mut buffer = RecordBuffer::new();
        buffer.extend(&header(REPORT_LINE, MAX_LINE as u32 + 1));
        assert!(buffer.take_reports(|_| {}).is_err());
    }
}
