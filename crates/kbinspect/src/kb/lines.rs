//! The non-empty lines of a plain-text article, read on demand with a small
//! look-ahead (shared by the plain-text readers: one cell per line,
//! whitespace-aligned columns, key/value lines).

use std::collections::VecDeque;

/// The non-empty lines ahead, read on demand: the parsers look at most a
/// table row (a few lines) ahead, so memory stays small however long the
/// input is. Each line is kept as written (right-trimmed), so aligned
/// columns keep their positions; [`Window::get`] gives it trimmed.
pub(crate) struct Window<'a, I: Iterator<Item = (usize, &'a str)>> {
    lines: I,
    buf: VecDeque<(usize, &'a str)>,
    /// Index of `buf[0]` among the non-empty lines.
    base: usize,
}

/// The non-empty lines of `text`, numbered from 1, right-trimmed.
pub(crate) fn window(text: &str) -> Window<'_, impl Iterator<Item = (usize, &str)>> {
    Window {
        lines: text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end()))
            .filter(|(_, l)| !l.is_empty()),
        buf: VecDeque::new(),
        base: 0,
    }
}

impl<'a, I: Iterator<Item = (usize, &'a str)>> Window<'a, I> {
    /// Line `i` (among the non-empty lines), trimmed, with its line number.
    pub(crate) fn get(&mut self, i: usize) -> Option<(usize, &'a str)> {
        self.raw(i).map(|(n, l)| (n, l.trim()))
    }

    /// Line `i` as written (only trailing blanks removed).
    pub(crate) fn raw(&mut self, i: usize) -> Option<(usize, &'a str)> {
        let k = i.checked_sub(self.base)?;
        while self.buf.len() <= k {
            let next = self.lines.next()?;
            self.buf.push_back(next);
        }
        self.buf.get(k).copied()
    }

    /// Lines `i..i + n`, trimmed.
    pub(crate) fn range(&mut self, i: usize, n: usize) -> Option<Vec<(usize, &'a str)>> {
        (i..i + n).map(|k| self.get(k)).collect()
    }

    /// Forget lines before `i`.
    pub(crate) fn release(&mut self, i: usize) {
        while self.base < i && self.buf.pop_front().is_some() {
            self.base += 1;
        }
    }
}
