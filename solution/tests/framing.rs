// REFERENCE FILE
//! The reference server's line framing (`chat::framing::LineBuffer`) against
//! a byte-by-byte model of protocol.md's rule, on generated streams cut
//! into generated chunks:
//!
//! - any cutting of a stream into chunks gives the same lines as the model
//!   (so, the same as the whole stream at once);
//! - no piece is longer than 4096 bytes;
//! - no byte is lost or invented: the bytes out are the bytes in, less the
//!   newlines and the `\r` dropped before them.
//!
//! A test of the reference, not of the students' work: the marker above
//! keeps this file and its `[[test]]` out of the students' crate, and
//! `solution/Cargo.toml` lists proptest as a dev-dependency of this file
//! alone, which the generator leaves out with it. Proptest writes no
//! regressions file (one here would be copied to students as it is): a
//! case it once found is an example in `cases_proptest_once_found`.

use chat::framing::LineBuffer;
use chat::protocol::MAX_LINE;
use proptest::prelude::*;

/// protocol.md, rule 7, one byte at a time: a newline ends a line (one `\r`
/// before it dropped); a line that already holds MAX_LINE bytes goes out as
/// a piece of its own when one more byte of it arrives; at the end, what is
/// left goes out too (one trailing `\r` dropped).
fn model(stream: &[u8]) -> Vec<Vec<u8>> {
    let strip = |mut line: Vec<u8>| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        line
    };
    let (mut lines, mut current) = (Vec::new(), Vec::new());
    for &byte in stream {
        if byte == b'\n' {
            lines.push(strip(std::mem::take(&mut current)));
        } else {
            if current.len() == MAX_LINE {
                lines.push(std::mem::take(&mut current));
            }
            current.push(byte);
        }
    }
    if !current.is_empty() {
        lines.push(strip(current));
    }
    lines
}

/// Feeds `stream` to a LineBuffer cut at `cuts` (positions, any order).
fn framed(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut buffer = LineBuffer::new();
    let mut lines = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([stream.len()]) {
        buffer.push(&stream[start..cut], |line| lines.push(line.to_vec()));
        assert!(buffer.len() <= MAX_LINE, "holds {} bytes", buffer.len());
        start = cut;
    }
    buffer.finish(|line| lines.push(line.to_vec()));
    lines
}

/// Streams made of the pieces that matter: text runs of every length around
/// the limit, newlines, carriage returns in every place.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let segment = prop_oneof![
        3 => (0usize..10).prop_map(|n| vec![b'a'; n]),
        2 => (MAX_LINE - 3..MAX_LINE + 3).prop_map(|n| vec![b'b'; n]),
        1 => (0usize..3 * MAX_LINE).prop_map(|n| vec![b'c'; n]),
        3 => Just(b"\n".to_vec()),
        2 => Just(b"\r".to_vec()),
        2 => Just(b"\r\n".to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..20),
    ];
    proptest::collection::vec(segment, 0..12).prop_map(|segments| segments.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_chunking_gives_the_lines_of_the_rule(
        stream in stream(),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let lines = framed(&stream, &cuts);
        prop_assert_eq!(&lines, &model(&stream));
        for line in &lines {
            prop_assert!(line.len() <= MAX_LINE, "a piece of {} bytes", line.len());
        }
        // Conservation: every byte in is in a line, or is a newline, or is a
        // `\r` dropped at the end of a line.
        let newlines = stream.iter().filter(|&&b| b == b'\n').count();
        let out: usize = lines.iter().map(Vec::len).sum();
        let crs_in = stream.iter().filter(|&&b| b == b'\r').count();
        let crs_out: usize = lines.iter().map(|l| l.iter().filter(|&&b| b == b'\r').count()).sum();
        prop_assert_eq!(out + newlines + (crs_in - crs_out), stream.len());
    }

    #[test]
    fn one_byte_at_a_time_is_the_same_as_all_at_once(stream in stream()) {
        let every_byte: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(framed(&stream, &every_byte), framed(&stream, &[]));
    }
}

#[test]
fn the_model_follows_the_protocol_examples() {
    let line = |n: usize| [vec![b'x'; n], b"\n".to_vec()].concat();
    let lens = |lines: Vec<Vec<u8>>| lines.iter().map(Vec::len).collect::<Vec<_>>();
    assert_eq!(lens(model(&line(10_000))), [4096, 4096, 1808]);
    assert_eq!(lens(model(&line(4096))), [4096]);
    assert_eq!(lens(model(&line(4097))), [4096, 1]);
    assert_eq!(model(b"a\r\nb\rc\n\r"), [&b"a"[..], b"b\rc", b""]);
}

/// Cases proptest found once, as the streams they shrank to (cut nowhere):
/// a line one byte short of the limit, then `\r\n`, or `\r\r`.
#[test]
fn cases_proptest_once_found() {
    let line = |end: &[u8]| [vec![b'b'; MAX_LINE - 1], end.to_vec()].concat();
    let lens = |lines: Vec<Vec<u8>>| lines.iter().map(Vec::len).collect::<Vec<_>>();
    // The `\r` before the newline is dropped.
    assert_eq!(lens(framed(&line(b"\r\n"), &[])), [MAX_LINE - 1]);
    // A `\r` that fills the line is a byte of it; the next one starts a
    // line of its own, which ends the stream: its `\r` is dropped.
    assert_eq!(lens(framed(&line(b"\r\r"), &[])), [MAX_LINE, 0]);
    for end in [&b"\r\n"[..], b"\r\r"] {
        assert_eq!(framed(&line(end), &[]), model(&line(end)), "ending {end:?}");
    }
}
