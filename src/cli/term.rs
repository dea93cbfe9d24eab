//! Terminal-safe text output: what a package names cannot drive the
//! reviewer's terminal. Table output goes through [`SafeWriter`], which
//! shows C0/C1 control characters (ESC, BEL, CR, backspace, …; line feeds
//! and tabs excepted) and the Unicode bidirectional controls (which can
//! reorder what a line appears to say) as visible `\u{…}` escapes. JSON
//! and CSV keep names exact (JSON escapes controls itself).
//! Own code: a byte filter over UTF-8, a few lines, no crate needed.

use std::io::{self, Write};

/// Escapes control and bidi characters in everything written through it.
pub struct SafeWriter<W: Write> {
    inner: W,
    /// An incomplete UTF-8 sequence held back from the previous write.
    pending: Vec<u8>,
}

impl<W: Write> SafeWriter<W> {
    pub fn new(inner: W) -> Self {
        SafeWriter {
            inner,
            pending: Vec::new(),
        }
    }
}

/// Whether a character is shown escaped.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` with [`is_unsafe`] characters escaped.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// `s` on one line: [`escape`], line feeds and tabs escaped too (an error
/// message quoting a member's name cannot start a line of its own).
pub fn escape_line(s: &str) -> std::borrow::Cow<'_, str> {
    let e = escape(s);
    if !e.contains(['\n', '\t']) {
        return e;
    }
    e.replace('\n', "\\u{a}").replace('\t', "\\u{9}").into()
}

impl<W: Write> Write for SafeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Copied only when a character was cut by the previous write; the
        // common case escapes (or passes on) the caller's bytes in place.
        let joined;
        let data: &[u8] = if self.pending.is_empty() {
            buf
        } else {
            let mut v = std::mem::take(&mut self.pending);
            v.extend_from_slice(buf);
            joined = v;
            &joined
        };
        let (text, rest) = match std::str::from_utf8(data) {
            Ok(t) => (t, &[][..]),
            Err(e) if e.error_len().is_none() => {
                // Cut in the middle of a character: keep the tail.
                let (a, b) = data.split_at(e.valid_up_to());
                (std::str::from_utf8(a).unwrap_or_default(), b)
            }
            Err(_) => {
                // Not UTF-8 (our tables are): pass through as it is.
                self.inner.write_all(data)?;
                return Ok(buf.len());
            }
        };
        self.inner.write_all(escape(text).as_bytes())?;
        self.pending = rest.to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let p = std::mem::take(&mut self.pending);
            self.inner.write_all(&p)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for SafeWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Standard output for tables and other text meant for a terminal.
pub fn stdout() -> SafeWriter<io::BufWriter<io::StdoutLock<'static>>> {
    SafeWriter::new(io::BufWriter::with_capacity(1 << 16, io::stdout().lock()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_even_split_across_writes() {
        let mut out = SafeWriter::new(Vec::new());
        let s = "a\x1b[31mred\x07\rb\u{202e}c\u{85}d\né\tf";
        let bytes = s.as_bytes();
        // Split inside the two-byte é and the three-byte U+202E.
        for chunk in bytes.chunks(3) {
            out.write_all(chunk).unwrap();
        }
        out.flush().unwrap();
        let got = String::from_utf8(out.inner.clone()).unwrap();
        assert_eq!(got, "a\\u{1b}[31mred\\u{7}\\u{d}b\\u{202e}c\\u{85}d\né\tf");
    }

    #[test]
    fn one_line_escapes_line_feeds_and_tabs_too() {
        assert_eq!(escape_line("plain: name.dll"), "plain: name.dll");
        assert_eq!(
            escape_line("at pkg.cab/a\nPASS\tb\x1b"),
            "at pkg.cab/a\\u{a}PASS\\u{9}b\\u{1b}"
        );
    }
}
