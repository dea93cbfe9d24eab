//! A saved KB web page. A small tolerant tag scanner (no DOM): text between
//! block-level tags becomes heading candidates; `<table>` / `<tr>` /
//! `<td>|<th>` become grids. Unclosed tags are closed at the end; nested
//! tables each become their own grid, and a table that turns out not to be a
//! file table (page layout) gives its cell texts back as prose so headings
//! inside it are still seen.

use super::Warning;
use super::blocks::{Block, Cell, GridRow, MAX_CELLS, MAX_ROW_CELLS, RECENT_LINES};
use super::clean::{collapse_ws, decode_entities};
use super::grid::is_file_grid;
use std::borrow::Cow;

/// Tags that end a line of prose.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "br",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "title",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "caption",
    "tbody",
    "thead",
    "main",
    "nav",
    "body",
    "html",
    "head",
];

/// Open tables nest at most this deep; deeper ones are read as text.
const MAX_TABLE_DEPTH: usize = 64;

/// `colspan` and `rowspan` of a cell.
type Span = (usize, usize);

/// A rowspan may not reach further down than this (HTML caps it at 65534).
const MAX_ROWSPAN: usize = 65_534;
/// Bytes of cell text copied into the rows a rowspan covers, per document;
/// beyond it copies are empty (file-table cells are short; this only bounds
/// hostile pages of huge cells spanning many rows).
const SPAN_COPY_BYTES: usize = 16 * 1024 * 1024;

struct OpenTable<'a> {
    rows: Vec<GridRow>,
    /// The spans of each kept row's cells, parallel to `rows`.
    spans: Vec<Vec<Span>>,
    row: Option<GridRow>,
    row_spans: Vec<Span>,
    cell: Option<Cell>,
    cell_span: Span,
    /// `<caption>` text, while and after it is open: a heading for the table.
    caption: Option<String>,
    caption_open: bool,
    /// Blocks found inside this table (nested tables, texts of its cells),
    /// with their order key.
    inner: Vec<Keyed<'a>>,
    /// Text blocks at the end of `inner` (see [`push_bounded`]).
    run: usize,
    line: usize,
}

type Keyed<'a> = ((usize, usize), Block<'a>);

/// Append a block. Texts only serve as headings of a following table, so a
/// run of them is cut back to the last [`RECENT_LINES`] (amortised), which
/// bounds memory on pages of endless prose.
fn push_bounded<'a>(dest: &mut Vec<Keyed<'a>>, run: &mut usize, item: Keyed<'a>) {
    if matches!(item.1, Block::Text(_)) {
        dest.push(item);
        *run += 1;
        if *run >= 2 * RECENT_LINES {
            let start = dest.len() - *run;
            dest.drain(start..start + RECENT_LINES);
            *run -= RECENT_LINES;
        }
    } else {
        dest.push(item);
        *run = 0;
    }
}

struct Scanner<'a> {
    out: Vec<Keyed<'a>>,
    out_run: usize,
    cells_left: usize,
    over_budget: bool,
    span_bytes_left: usize,
    stack: Vec<OpenTable<'a>>,
    prose: String,
    prose_line: usize,
    seq: usize,
    /// The line being scanned: texts leaving a cell are placed here, so a
    /// heading between two nested tables sorts between them.
    line: usize,
    /// Inside `<pre>`: the line it starts on and its text so far.
    pre: Option<(usize, String)>,
}

impl<'a> Scanner<'a> {
    fn key(&mut self, line: usize) -> (usize, usize) {
        self.seq += 1;
        (line, self.seq)
    }

    fn emit(&mut self, line: usize, block: Block<'a>) {
        let k = self.key(line);
        self.deliver(vec![(k, block)]);
    }

    /// Into the innermost open table, or the document.
    fn deliver(&mut self, blocks: Vec<Keyed<'a>>) {
        let (dest, run) = match self.stack.last_mut() {
            Some(t) => (&mut t.inner, &mut t.run),
            None => (&mut self.out, &mut self.out_run),
        };
        for b in blocks {
            push_bounded(dest, run, b);
        }
    }

    fn text(&mut self, s: &str, line: usize) {
        if let Some((_, pre)) = self.pre.as_mut() {
            pre.push_str(s);
            return;
        }
        if let Some(cell) = self.stack.last_mut().and_then(|t| t.cell.as_mut()) {
            cell.text.push_str(s);
            return;
        }
        if let Some(t) = self.stack.last_mut()
            && t.caption_open
        {
            let caption = t.caption.get_or_insert_with(String::new);
            // A caption is a line; a page that never closes one must not
            // grow it without bound.
            if caption.len() < 4096 {
                caption.push_str(s);
            }
            return;
        }
        // A source line break also ends a prose line: browsers ignore it,
        // but headings written as plain lines (markdown around embedded
        // tables, sloppy pages) stay separate from the next paragraph.
        for (i, part) in s.split('\n').enumerate() {
            if i > 0 {
                self.flush_prose();
            }
            if self.prose.trim().is_empty() {
                self.prose_line = line + i;
            }
            self.prose.push_str(part);
        }
    }

    /// The end of a `<pre>` block: plain text, read as such (whitespace-
    /// aligned columns, key/value lines, one cell per line). Its tables join
    /// the page's at their lines; without one, its text is prose as before.
    fn close_pre(&mut self) {
        let Some((line0, content)) = self.pre.take() else {
            return;
        };
        let found = if self.cells_left > 0 {
            super::text::blocks(&content)
        } else {
            Vec::new()
        };
        let cells: usize = found
            .iter()
            .map(|b| match b {
                Block::Grid(rows) => rows.iter().map(|r| r.cells.len()).sum(),
                _ => 0,
            })
            .sum();
        if cells == 0 || cells > self.cells_left {
            self.text(&content, line0);
            return;
        }
        self.cells_left -= cells;
        self.flush_prose();
        let shift = |l: usize| l + line0 - 1;
        // All keyed at the `<pre>` line: they keep their order among
        // themselves and stand between what comes before and after.
        let mut keyed = Vec::with_capacity(found.len());
        for b in found {
            let block = match b {
                Block::Text(t) => Block::Text(Cow::Owned(t.into_owned())),
                Block::Markup(t) => Block::Text(Cow::Owned(t.to_string())),
                Block::Warn(mut w) => {
                    w.line = shift(w.line);
                    Block::Warn(w)
                }
                Block::Grid(mut rows) => {
                    for r in &mut rows {
                        r.line = shift(r.line);
                        for c in &mut r.cells {
                            c.line = shift(c.line);
                        }
                    }
                    Block::Grid(rows)
                }
            };
            let k = self.key(line0);
            keyed.push((k, block));
        }
        self.deliver(keyed);
    }

    fn flush_prose(&mut self) {
        if self.prose.is_empty() {
            return;
        }
        let t = collapse_ws(&self.prose);
        self.prose.clear();
        if !t.is_empty() {
            let line = self.prose_line;
            self.emit(line, Block::Text(Cow::Owned(t)));
        }
    }

    /// Lines of a cell's text as prose blocks (used when the table turns out
    /// to be page layout, not data).
    fn cell_lines(&mut self, line: usize, text: &str) -> Vec<Keyed<'a>> {
        let mut blocks = Vec::new();
        if text.trim().is_empty() {
            return blocks;
        }
        for part in text.split('\n') {
            let t = collapse_ws(part);
            if !t.is_empty() {
                let k = self.key(line);
                blocks.push((k, Block::Text(Cow::Owned(t))));
            }
        }
        blocks
    }

    fn close_cell(&mut self) {
        let Some(mut cell) = self.stack.last_mut().and_then(|t| t.cell.take()) else {
            return;
        };
        if !cell.text.is_empty() {
            let texts = self.cell_lines(self.line, &cell.text);
            cell.text = collapse_ws(&cell.text);
            self.deliver(texts);
        }
        let Some(t) = self.stack.last_mut() else {
            return;
        };
        let line = cell.line;
        t.row
            .get_or_insert_with(|| GridRow {
                line,
                cells: Vec::new(),
                from_stream: false,
            })
            .cells
            .push(cell);
        t.row_spans.push(t.cell_span);
    }

    /// A table opening inside a cell: what the cell said so far is prose
    /// above the new table (its heading, typically).
    fn split_cell_before_table(&mut self) {
        let line = self.line;
        let Some(text) = self
            .stack
            .last_mut()
            .and_then(|t| t.cell.as_mut())
            .map(|c| std::mem::take(&mut c.text))
        else {
            return;
        };
        let texts = self.cell_lines(line, &text);
        self.deliver(texts);
    }

    fn close_row(&mut self) {
        self.close_cell();
        // A row without cells (`<tr>` soup, or cells over the caps) adds nothing.
        if let Some(t) = self.stack.last_mut() {
            let spans = std::mem::take(&mut t.row_spans);
            if let Some(r) = t.row.take()
                && !r.cells.is_empty()
            {
                t.rows.push(r);
                t.spans.push(spans);
            }
        }
    }

    fn close_table(&mut self) {
        self.close_row();
        let Some(mut t) = self.stack.pop() else {
            return;
        };
        let rows = self.expand_spans(std::mem::take(&mut t.rows), std::mem::take(&mut t.spans));
        // The caption sorts just before the table (same line, earlier key).
        let caption = t
            .caption
            .take()
            .map(|c| collapse_ws(&c))
            .filter(|c| !c.is_empty());
        if let Some(c) = caption {
            let k = self.key(t.line);
            self.deliver(vec![(k, Block::Text(Cow::Owned(c)))]);
        }
        if is_file_grid(&rows) {
            let k = self.key(t.line);
            let mut inner: Vec<_> = t
                .inner
                .into_iter()
                .filter(|(_, b)| !matches!(b, Block::Text(_)))
                .collect();
            inner.push((k, Block::Grid(rows)));
            self.forward(inner);
        } else {
            self.forward(t.inner);
        }
    }

    fn forward(&mut self, blocks: Vec<Keyed<'a>>) {
        self.deliver(blocks);
    }

    /// Lay cells out on the grid the way a browser does: a `colspan=n` cell
    /// is followed by n-1 empty cells (an empty cell reads as "no value"),
    /// and a `rowspan=n` cell is repeated in the same column of the next n-1
    /// rows (its colspan part there empty). Copies count against the cell
    /// budget; rows keep at most [`MAX_ROW_CELLS`] cells.
    fn expand_spans(&mut self, rows: Vec<GridRow>, spans: Vec<Vec<Span>>) -> Vec<GridRow> {
        if spans.iter().flatten().all(|s| *s == (1, 1)) {
            return rows;
        }
        // Per column: rows still covered from above, and the text to repeat.
        let mut carried: Vec<Option<(usize, String)>> = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for (mut row, sp) in rows.into_iter().zip(spans) {
            let line = row.line;
            let real = std::mem::take(&mut row.cells);
            let mut cells: Vec<Cell> = Vec::with_capacity(real.len());
            for (cell, (cs, rs)) in real.into_iter().zip(sp) {
                self.fill_carried(&mut cells, &mut carried, line, false);
                if cells.len() >= MAX_ROW_CELLS {
                    break;
                }
                let col = cells.len();
                let below = if rs > 1 && cell.text.len() <= self.span_bytes_left {
                    self.span_bytes_left -= cell.text.len();
                    cell.text.clone()
                } else {
                    String::new()
                };
                let cell_line = cell.line;
                cells.push(cell);
                for k in 0..cs {
                    if k > 0 {
                        if cells.len() >= MAX_ROW_CELLS || !self.take_copy() {
                            break;
                        }
                        cells.push(Cell {
                            line: cell_line,
                            text: String::new(),
                        });
                    }
                    if rs > 1 {
                        if carried.len() <= col + k {
                            carried.resize(col + k + 1, None);
                        }
                        let text = if k == 0 { below.clone() } else { String::new() };
                        if let Some(slot) = carried.get_mut(col + k) {
                            *slot = Some((rs - 1, text));
                        }
                    }
                }
            }
            self.fill_carried(&mut cells, &mut carried, line, true);
            row.cells = cells;
            out.push(row);
        }
        out
    }

    /// Put the cells carried down from rows above at the end of `cells`,
    /// from its current width on: only the run at that width, or (`all`)
    /// every carried column to the right, with empty cells in the gaps.
    fn fill_carried(
        &mut self,
        cells: &mut Vec<Cell>,
        carried: &mut [Option<(usize, String)>],
        line: usize,
        all: bool,
    ) {
        loop {
            let col = cells.len();
            if col >= MAX_ROW_CELLS {
                return;
            }
            let Some(slot) = carried.get(col) else {
                return;
            };
            if slot.is_none() && !(all && carried.iter().skip(col).any(Option::is_some)) {
                return;
            }
            if !self.take_copy() {
                return;
            }
            let text = match carried.get_mut(col).and_then(Option::take) {
                Some((left, text)) => {
                    if left > 1
                        && let Some(slot) = carried.get_mut(col)
                    {
                        *slot = Some((left - 1, text.clone()));
                    }
                    text
                }
                None => String::new(),
            };
            cells.push(Cell { line, text });
        }
    }

    fn take_copy(&mut self) -> bool {
        if self.cells_left == 0 {
            return false;
        }
        self.cells_left -= 1;
        true
    }
}

/// The value of a `colspan`/`rowspan` attribute in a tag's text, clamped:
/// missing, malformed or 0 reads as 1 for colspan; rowspan 0 ("to the end
/// of the table") reads as [`MAX_ROWSPAN`].
fn span_attr(tag: &str, attr: &str, max: usize) -> usize {
    // An unterminated tag runs to the end of the input: attributes of
    // interest are near its start.
    let head = tag.get(..tag.len().min(4096)).unwrap_or(tag);
    let b = head.as_bytes();
    let n = attr.len();
    // Case-insensitive search without lowercasing a copy: this runs for
    // every cell with attributes.
    let at = (1..b.len().saturating_sub(n) + 1).find(|&i| {
        b.get(i - 1).is_some_and(u8::is_ascii_whitespace)
            && b.get(i..i + n)
                .is_some_and(|w| w.eq_ignore_ascii_case(attr.as_bytes()))
    });
    let Some(at) = at else {
        return 1;
    };
    let rest = head.get(at + n..).unwrap_or_default().trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return 1;
    };
    let digits: String = rest
        .trim_start()
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(char::is_ascii_digit)
        .take(6)
        .collect();
    match digits.parse::<usize>() {
        Ok(0) if attr == "rowspan" => max,
        Ok(0) | Err(_) => 1,
        Ok(n) => n.min(max),
    }
}

pub(crate) fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut sc = Scanner {
        out: Vec::new(),
        out_run: 0,
        cells_left: MAX_CELLS,
        over_budget: false,
        span_bytes_left: SPAN_COPY_BYTES,
        stack: Vec::new(),
        prose: String::new(),
        prose_line: 1,
        seq: 0,
        line: 1,
        pre: None,
    };
    let bytes = text.as_bytes();
    let mut pos = 0usize;
    let mut line = 1usize;
    while pos < text.len() {
        let Some(lt) = text.get(pos..).and_then(|r| r.find('<')).map(|p| p + pos) else {
            let chunk = text.get(pos..).unwrap_or_default();
            sc.text(&decode_entities(chunk), line);
            break;
        };
        let chunk = text.get(pos..lt).unwrap_or_default();
        if !chunk.is_empty() {
            sc.text(&decode_entities(chunk), line);
            line += chunk.matches('\n').count();
        }
        let rest = text.get(lt..).unwrap_or_default();
        // Comments, doctype, processing instructions.
        let (consumed, tag) = if rest.starts_with("<!--") {
            (rest.find("-->").map_or(rest.len(), |e| e + 3), None)
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            (rest.find('>').map_or(rest.len(), |e| e + 1), None)
        } else {
            match parse_tag(rest) {
                Some((len, name, closing)) => (len, Some((name, closing))),
                None => {
                    // A lone `<` is text.
                    sc.text("<", line);
                    (1, None)
                }
            }
        };
        let tag_line = line;
        let tag_text = rest.get(..consumed).unwrap_or_default();
        sc.line = tag_line;
        line += rest
            .get(..consumed)
            .unwrap_or_default()
            .matches('\n')
            .count();
        pos = lt + consumed;
        let Some((name, closing)) = tag else { continue };
        match (name.as_str(), closing) {
            (n @ ("script" | "style"), false) => {
                let end = find_ci(
                    bytes,
                    pos,
                    if n == "script" {
                        b"</script"
                    } else {
                        b"</style"
                    },
                )
                .unwrap_or(text.len());
                line += text.get(pos..end).unwrap_or_default().matches('\n').count();
                pos = end;
            }
            ("table", false) => {
                sc.flush_prose();
                sc.split_cell_before_table();
                if sc.stack.len() < MAX_TABLE_DEPTH {
                    sc.stack.push(OpenTable {
                        rows: Vec::new(),
                        spans: Vec::new(),
                        row: None,
                        row_spans: Vec::new(),
                        cell: None,
                        cell_span: (1, 1),
                        caption: None,
                        caption_open: false,
                        inner: Vec::new(),
                        run: 0,
                        line: tag_line,
                    });
                }
            }
            ("table", true) => {
                sc.flush_prose();
                sc.close_table();
            }
            ("tr", false) => {
                sc.flush_prose();
                sc.close_row();
                if let Some(t) = sc.stack.last_mut() {
                    t.row = Some(GridRow {
                        line: tag_line,
                        cells: Vec::new(),
                        from_stream: false,
                    });
                }
            }
            ("tr", true) => sc.close_row(),
            ("td" | "th", false) => {
                sc.flush_prose();
                sc.close_cell();
                let Some(t) = sc.stack.last_mut() else {
                    continue;
                };
                let row = t.row.get_or_insert_with(|| GridRow {
                    line: tag_line,
                    cells: Vec::new(),
                    from_stream: false,
                });
                // Cells beyond the caps are not kept; their text reads as prose.
                if row.cells.len() < MAX_ROW_CELLS && sc.cells_left > 0 {
                    sc.cells_left -= 1;
                    t.cell = Some(Cell {
                        line: tag_line,
                        text: String::new(),
                    });
                    // `<td>`: no attributes, nothing to look for.
                    t.cell_span = if tag_text.len() <= 4 {
                        (1, 1)
                    } else {
                        (
                            span_attr(tag_text, "colspan", MAX_ROW_CELLS),
                            span_attr(tag_text, "rowspan", MAX_ROWSPAN),
                        )
                    };
                } else if sc.cells_left == 0 && !sc.over_budget {
                    sc.over_budget = true;
                    let k = sc.key(tag_line);
                    let warning = Block::Warn(Warning {
                        line: tag_line,
                        message: format!(
                            "more than {MAX_CELLS} table cells; the rest of the page is not read as tables"
                        ),
                    });
                    push_bounded(&mut sc.out, &mut sc.out_run, (k, warning));
                }
            }
            ("td" | "th", true) => sc.close_cell(),
            ("caption", closing) => {
                if let Some(t) = sc.stack.last_mut()
                    && t.cell.is_none()
                {
                    t.caption_open = !closing;
                } else if sc.stack.last().is_none_or(|t| t.cell.is_none()) {
                    sc.flush_prose();
                }
            }
            ("pre", false) if sc.pre.is_none() => {
                if sc.stack.last().is_some_and(|t| t.cell.is_some()) {
                    sc.text("\n", tag_line);
                } else {
                    sc.flush_prose();
                }
                sc.pre = Some((line, String::new()));
            }
            ("pre", true) => sc.close_pre(),
            ("br" | "wbr", _) => {
                // Inside a cell a break splits a long name: join without space.
                let in_cell = sc.stack.last().is_some_and(|t| t.cell.is_some());
                if !in_cell {
                    sc.flush_prose();
                }
            }
            (n, _) if BLOCK_TAGS.contains(&n) => {
                if sc.stack.last().is_some_and(|t| t.cell.is_some()) {
                    sc.text("\n", tag_line);
                } else {
                    sc.flush_prose();
                }
            }
            _ => {}
        }
    }
    sc.close_pre();
    sc.flush_prose();
    while !sc.stack.is_empty() {
        sc.close_table();
    }
    let mut out = sc.out;
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, b)| b).collect()
}

/// `<name attr="…">` or `</name>`: (bytes consumed, lowercase name, closing).
/// A tag name, lowercased in place (no allocation per tag). Names longer
/// than any tag we act on are kept empty, so they match nothing.
struct TagName {
    buf: [u8; 12],
    len: usize,
}

impl TagName {
    fn new(raw: &[u8]) -> Self {
        let mut buf = [0u8; 12];
        let len = if raw.len() <= buf.len() { raw.len() } else { 0 };
        for (d, s) in buf.iter_mut().zip(raw.iter().take(len)) {
            *d = s.to_ascii_lowercase();
        }
        TagName { buf, len }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

fn parse_tag(rest: &str) -> Option<(usize, TagName, bool)> {
    let b = rest.as_bytes();
    let mut i = 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
        i += 1;
    }
    if i == start {
        return None;
    }
    let name = TagName::new(b.get(start..i)?);
    let mut quote: Option<u8> = None;
    while let Some(&c) = b.get(i) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return Some((i + 1, name, closing)),
            _ => {}
        }
        i += 1;
    }
    Some((b.len(), name, closing))
}

fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    (from..hay.len()).find(|&i| {
        hay.get(i).is_some_and(|b| b.eq_ignore_ascii_case(&first))
            && hay
                .get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let t = |s: &str| {
            parse_tag(s).map(|(n, name, closing)| (n, name.as_str().to_string(), closing))
        };
        assert_eq!(t("<td class=\"a>b\">x"), Some((16, "td".into(), false)));
        assert_eq!(t("</TR>"), Some((5, "tr".into(), true)));
        assert_eq!(
            t("<averyveryverylongname>"),
            Some((23, String::new(), false))
        );
        assert_eq!(t("< x"), None);
    }

    #[test]
    fn spans() {
        assert_eq!(span_attr("<td colspan=\"3\">", "colspan", 64), 3);
        assert_eq!(span_attr("<TD ROWSPAN = '2'>", "rowspan", 9), 2);
        assert_eq!(span_attr("<td rowspan=0>", "rowspan", 9), 9);
        assert_eq!(span_attr("<td colspan=0>", "colspan", 64), 1);
        assert_eq!(span_attr("<td colspan=99999999>", "colspan", 64), 64);
        assert_eq!(span_attr("<td data-colspan=3>", "colspan", 64), 1);
        assert_eq!(span_attr("<td colspan=x>", "colspan", 64), 1);
        assert_eq!(span_attr("<td>", "colspan", 64), 1);
    }
}
