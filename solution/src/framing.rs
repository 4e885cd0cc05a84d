//! Cutting a byte stream into lines.
//!
//! TCP delivers a stream of bytes, not messages: one `read` may return half a
//! line, or several lines and the start of the next. So the server keeps, for
//! each client, the bytes of the line that has not ended yet, and forwards
//! only whole lines.
//!
//! To keep that memory bounded, a [`LineBuffer`] holds at most
//! [`MAX_LINE`] bytes of an unfinished line: when more bytes of the same line
//! arrive, the bytes it holds go out as a line of their own (a *piece*). So a
//! 10000-byte line comes out as pieces of 4096, 4096 and 1808 bytes, and
//! nothing is dropped.

use crate::protocol::MAX_LINE;

/// The unfinished line of one input stream.
#[derive(Debug, Default)]
pub struct LineBuffer {
    partial: Vec<u8>,
}

impl LineBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the stream and calls `on_line` for each line
    /// they complete, in order, without its `\n` and without a `\r` before
    /// that `\n`; a piece cut at [`MAX_LINE`] bytes keeps all its bytes.
    /// Keeps the bytes of a line that has not ended yet for the next call.
    pub fn push(&mut self, mut bytes: &[u8], mut on_line: impl FnMut(&[u8])) {
        while !bytes.is_empty() {
            // How many more bytes of the current line we may hold.
            let room = MAX_LINE - self.partial.len();
            // A newline counts if it arrives within `room` bytes; one byte
            // later, the line is already too long.
            let window = &bytes[..bytes.len().min(room + 1)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.emit(&bytes[..end], &mut on_line, strip_cr);
                bytes = &bytes[end + 1..];
            } else if bytes.len() > room {
                // More than MAX_LINE bytes without a newline: what fits goes
                // out as a piece, the rest starts the next piece.
                self.emit(&bytes[..room], &mut on_line, |piece| piece);
                bytes = &bytes[room..];
            } else {
                self.partial.extend_from_slice(bytes);
                return;
            }
        }
    }

    /// Ends the stream: calls `on_line` with the unfinished line, if there is
    /// one (a trailing `\r` dropped), and empties the buffer.
    pub fn finish(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            self.emit(&[], &mut on_line, strip_cr);
        }
    }

    /// The number of bytes held of the unfinished line.
    pub fn len(&self) -> usize {
        self.partial.len()
    }

    /// Whether no bytes of an unfinished line are held.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty()
    }

    /// Calls `on_line` with the held bytes followed by `tail`, trimmed by
    /// `trim`, and empties the buffer. When nothing is held, `tail` is passed
    /// on without being copied.
    fn emit(
        &mut self,
        tail: &[u8],
        on_line: &mut impl FnMut(&[u8]),
        trim: impl Fn(&[u8]) -> &[u8],
    ) {
        if self.partial.is_empty() {
            on_line(trim(tail));
        } else {
            self.partial.extend_from_slice(tail);
            on_line(trim(&self.partial));
            self.partial.clear();
        }
    }
}

/// The line without its last byte if that byte is `\r` (a line typed on a
/// system that ends lines with `\r\n`).
pub fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one by one, then ends the stream; returns every line.
    fn lines_of(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut buffer = LineBuffer::new();
        let mut lines = Vec::new();
        for chunk in chunks {
            buffer.push(chunk, |line| lines.push(line.to_vec()));
        }
        buffer.finish(|line| lines.push(line.to_vec()));
        lines
    }

    fn lens(lines: &[Vec<u8>]) -> Vec<usize> {
        lines.iter().map(Vec::len).collect()
    }

    #[test]
    fn whole_lines_come_out_in_order() {
        assert_eq!(
            lines_of(&[b"a\nbb\n\nccc\n"]),
            [&b"a"[..], b"bb", b"", b"ccc"]
        );
    }

    #[test]
    fn a_line_split_across_chunks_comes_out_once_whole() {
        assert_eq!(
            lines_of(&[b"he", b"ll", b"o\nwor", b"ld\n"]),
            [b"hello", b"world"]
        );
    }

    #[test]
    fn a_carriage_return_before_the_newline_is_dropped() {
        assert_eq!(
            lines_of(&[b"dos\r\n", b"split\r", b"\n", b"mid\rdle\n"]),
            [&b"dos"[..], b"split", b"mid\rdle"]
        );
    }

    #[test]
    fn an_unfinished_line_comes_out_at_the_end() {
        assert_eq!(lines_of(&[b"one\ntw", b"o\r"]), [b"one", b"two"]);
        assert!(
            lines_of(&[b"done\n"]).len() == 1,
            "no empty line at the end"
        );
    }

    #[test]
    fn a_long_line_comes_out_in_pieces_of_max_line() {
        let mut line = vec![b'x'; 10_000];
        line.push(b'\n');
        assert_eq!(lens(&lines_of(&[&line])), [4096, 4096, 1808]);
        // The same stream, one byte at a time, gives the same pieces.
        let bytes: Vec<&[u8]> = line.chunks(1).collect();
        assert_eq!(lens(&lines_of(&bytes)), [4096, 4096, 1808]);
    }

    #[test]
    fn a_line_of_exactly_max_line_bytes_comes_out_whole() {
        let mut line = vec![b'y'; MAX_LINE];
        line.push(b'\n');
        assert_eq!(lens(&lines_of(&[&line])), [MAX_LINE]);
        let (head, tail) = line.split_at(MAX_LINE);
        assert_eq!(lens(&lines_of(&[head, tail])), [MAX_LINE]);
    }

    #[test]
    fn one_byte_more_than_max_line_gives_a_piece_and_one_byte() {
        let mut line = vec![b'z'; MAX_LINE + 1];
        line.push(b'\n');
        assert_eq!(lens(&lines_of(&[&line])), [MAX_LINE, 1]);
    }

    #[test]
    fn a_piece_cut_at_the_limit_keeps_its_carriage_return() {
        let mut line = vec![b'r'; MAX_LINE - 1];
        line.extend_from_slice(b"\rmore\n");
        let lines = lines_of(&[&line]);
        assert_eq!(lens(&lines), [MAX_LINE, 4]);
        assert_eq!(lines[0].last(), Some(&b'\r'));
    }

    #[test]
    fn it_never_holds_more_than_max_line_bytes() {
        let mut buffer = LineBuffer::new();
        let mut count = 0;
        for _ in 0..3 * MAX_LINE {
            buffer.push(b"q", |_| count += 1);
            assert!(buffer.len() <= MAX_LINE);
        }
        assert_eq!(count, 2, "two full pieces went out");
        assert_eq!(buffer.len(), MAX_LINE);
    }
}
