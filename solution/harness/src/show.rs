//! Bytes as a failure shows them: quoted and escaped so that a stray `\r`,
//! NUL or invalid byte is visible, cut short when long, and for long lines
//! the place where what was seen first differs from what was expected.

/// Bytes as a quoted, escaped, length-capped string: `"hello\r\n"`.
pub fn show(bytes: &[u8]) -> String {
    const CAP: usize = 300;
    let shown = &bytes[..bytes.len().min(CAP)];
    let mut text = format!("\"{}\"", escape(shown));
    if bytes.len() > CAP {
        text.push_str(&format!(" (the first {CAP} of {} bytes)", bytes.len()));
    }
    text
}

/// `seen` as [`show`] shows it, after where it first differs from
/// `expected` when the two are long: a reader cannot spot one wrong byte in a
/// thousand, nor a difference past what `show` shows.
pub fn show_against(expected: &[u8], seen: &[u8]) -> String {
    match where_they_differ(expected, seen) {
        // The difference first: reports cut long values short.
        Some(difference) => format!("{difference}; the whole line: {}", show(seen)),
        None => show(seen),
    }
}

/// Where `seen` first differs from `expected`, with some context, for lines
/// longer than a glance takes in; `None` for short or equal ones.
pub fn where_they_differ(expected: &[u8], seen: &[u8]) -> Option<String> {
    /// Shorter lines are compared by eye.
    const LONG: usize = 80;
    /// Bytes of context on each side of the first difference.
    const WINDOW: usize = 20;
    if expected == seen || expected.len().max(seen.len()) <= LONG {
        return None;
    }
    let at = expected
        .iter()
        .zip(seen)
        .take_while(|(e, s)| e == s)
        .count();
    let from = |bytes: &[u8]| {
        let end = (at + WINDOW).min(bytes.len());
        let more = if end < bytes.len() { "..." } else { "" };
        format!("\"{}\"{more}", escape(&bytes[at..end]))
    };
    let start = at.saturating_sub(WINDOW);
    let before = if start > 0 { "..." } else { "" };
    Some(format!(
        "they first differ at byte {at} ({} bytes expected, {} seen), after {before}\"{}\": \
         expected {}, seen {}",
        expected.len(),
        seen.len(),
        escape(&expected[start..at]),
        from(expected),
        from(seen)
    ))
}

/// Bytes as text lines for a transcript: printable text as it is, other
/// bytes escaped, so a stray `\r` or NUL is visible.
pub fn show_block(bytes: &[u8]) -> String {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let mut text = escape(body);
            if !line.ends_with(b"\n") {
                text.push_str("[no newline]");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Printable ASCII and valid UTF-8 text as they are; `\r`, `\t`, other
/// control characters and invalid bytes escaped. Quotes and backslashes are
/// escaped too, so the result reads unambiguously inside quotes.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\0' => out.push_str("\\0"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_shows_where_it_first_differs() {
        let expected: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
        let mut seen = expected.clone();
        seen[700] = 0xff;
        let difference = where_they_differ(&expected, &seen).expect("they differ");
        assert_eq!(
            difference,
            "they first differ at byte 700 (1000 bytes expected, 1000 seen), after \
             ...\"efghijklmnopqrstuvwx\": expected \"yzabcdefghijklmnopqr\"..., \
             seen \"\\xffzabcdefghijklmnopqr\"..."
        );
        // A shorter seen line differs where it ends.
        let cut = where_they_differ(&expected, &expected[..990]).expect("they differ");
        assert!(
            cut.starts_with("they first differ at byte 990 (1000 bytes expected, 990 seen)"),
            "{cut}"
        );
        assert!(cut.ends_with("seen \"\""), "{cut}");
        // Short or equal lines are compared by eye.
        assert_eq!(where_they_differ(b"hello", b"help"), None);
        assert_eq!(where_they_differ(&expected, &expected), None);
        assert!(show_against(&expected, &seen).starts_with("they first differ at byte 700"));
        assert_eq!(show_against(b"hello", b"help"), "\"help\"");
    }

    #[test]
    fn control_characters_and_invalid_bytes_are_visible() {
        assert_eq!(show(b"a\r\n\x00\xff\"\\"), r#""a\r\n\0\xff\"\\""#);
        assert_eq!(
            crate::show::show_block(b"one\r\ntwo"),
            "one\\r\ntwo[no newline]"
        );
    }
}
