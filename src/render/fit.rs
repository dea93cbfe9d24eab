//! Text that fits a width: long paths shortened in the middle, prose
//! wrapped at spaces, and [`FitWriter`], which wraps every line written
//! through it that is still too wide (the verdict line, the trust lines).
//! Widths are display widths (terminal cells: `漢` is 2, a combining accent
//! 0), measured with `unicode-width`.

use std::io::{self, Write};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Display width of `s` in terminal cells.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` shortened to at most `max` cells by cutting its middle, marked with
/// `…`: `windows6.1-kb4538483-x86_f77e….msu`. The end (a file name, an
/// extension) keeps a little more than the start.
pub fn shorten_middle(s: &str, max: usize) -> String {
    if s.width() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1; // the ellipsis
    let head_room = room / 3;
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        head.push(c);
        used += w;
    }
    let tail_room = room - used;
    let mut tail: Vec<char> = Vec::new();
    let mut tail_used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if tail_used + w > tail_room {
            break;
        }
        tail.push(c);
        tail_used += w;
    }
    tail.reverse();
    let mut out = head;
    out.push('…');
    out.extend(tail);
    out
}

/// `s` cut into lines of at most `max` cells: at spaces where possible,
/// words longer than a line broken where they must be. Never empty: an
/// empty `s` is one empty line. Leading spaces stay on the first line.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let indent = s.len() - s.trim_start_matches(' ').len();
    let max = max.max(1);
    let first = max.saturating_sub(indent).max(1);
    let mut lines = wrap_rooms(&s[indent..], first, max);
    if let Some(l) = lines.first_mut() {
        l.insert_str(0, &" ".repeat(indent.min(max - 1)));
    }
    lines
}

/// Greedy word wrap with `first` cells on the first line and `rest` on the
/// others.
fn wrap_rooms(s: &str, first: usize, rest: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    let mut started = false; // a word is on the line (even an empty one)
    let room = |lines: &Vec<String>| if lines.is_empty() { first } else { rest };
    for word in s.split(' ') {
        let w = word.width();
        if started && used + 1 + w <= room(&lines) {
            line.push(' ');
            line.push_str(word);
            used += 1 + w;
            continue;
        }
        if started {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        started = true;
        // A word longer than a line: cut it.
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > room(&lines) && used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    lines.push(line);
    lines
}

/// A line of prose wrapped to `max` cells, continuation lines indented by
/// the line's own indentation plus two spaces (a hanging indent).
pub fn wrap_hanging(line: &str, max: usize) -> Vec<String> {
    if line.width() <= max {
        return vec![line.to_string()];
    }
    let max = max.max(4);
    let indent = (line.len() - line.trim_start_matches(' ').len()).min(max / 2);
    let body = line.trim_start_matches(' ');
    let rest_indent = (indent + 2).min(max / 2);
    let mut lines = wrap_rooms(body, max - indent, max - rest_indent);
    for (i, l) in lines.iter_mut().enumerate() {
        let pad = if i == 0 { indent } else { rest_indent };
        l.truncate(l.trim_end_matches(' ').len());
        l.insert_str(0, &" ".repeat(pad));
    }
    lines
}

/// Wraps each line written through it that is wider than `max` cells
/// ([`wrap_hanging`]); `None` passes everything through untouched. Lines
/// are held until their newline, so a line written in pieces is measured
/// whole. Below a [`crate::cli::term::SafeWriter`], it measures the text
/// as the terminal shows it.
pub struct FitWriter<W: Write> {
    inner: W,
    max: Option<usize>,
    line: Vec<u8>,
}

impl<W: Write> FitWriter<W> {
    pub fn new(inner: W, max: Option<usize>) -> Self {
        FitWriter {
            inner,
            max,
            line: Vec::new(),
        }
    }

    fn emit(&mut self, newline: bool) -> io::Result<()> {
        let Some(max) = self.max else {
            return Ok(());
        };
        let line = std::mem::take(&mut self.line);
        match std::str::from_utf8(&line) {
            Ok(text) if text.width() > max => {
                let lines = wrap_hanging(text, max);
                let last = lines.len() - 1;
                for (i, l) in lines.iter().enumerate() {
                    self.inner.write_all(l.as_bytes())?;
                    if i < last || newline {
                        self.inner.write_all(b"\n")?;
                    }
                }
            }
            _ => {
                self.inner.write_all(&line)?;
                if newline {
                    self.inner.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for FitWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.max.is_none() {
            return self.inner.write(buf);
        }
        let mut rest = buf;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..at]);
            self.emit(true)?;
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.line.is_empty() {
            self.emit(false)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for FitWriter<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_both_ends() {
        let s = "windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";
        let got = shorten_middle(s, 30);
        assert_eq!(got.width(), 30);
        assert!(got.starts_with("windows6."));
        assert!(got.ends_with("53323.msu"));
        assert!(got.contains('…'));
        assert_eq!(shorten_middle("short", 30), "short");
        assert_eq!(shorten_middle("漢字漢字漢字", 5).width(), 5);
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
        for l in wrap("漢字漢字 漢字", 3) {
            assert!(l.width() <= 3, "{l}");
        }
    }

    #[test]
    fn hanging_indent_and_every_line_fits() {
        let line = "  verified  windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu  signer: Microsoft Corporation  chain: A > B > C";
        let got = wrap_hanging(line, 40);
        assert!(got.len() > 2);
        assert!(got[0].starts_with("  verified"));
        for l in &got[1..] {
            assert!(l.starts_with("    "), "{l:?}");
        }
        for l in &got {
            assert!(l.width() <= 40, "{l:?}");
        }
    }

    #[test]
    fn fit_writer_wraps_only_wide_lines() {
        let mut out = Vec::new();
        {
            let mut w = FitWriter::new(&mut out, Some(10));
            w.write_all(b"short\nthis line is too long\nlast").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "short\nthis line\n  is too\n  long\nlast");
    }
}
