//! The intermediate form between a layout front-end and the table builder:
//! blocks of text lines and cell grids, and the [`Sink`] that bounds how many
//! are kept.

use super::Warning;
use std::borrow::Cow;

/// How many lines above a table are searched for its heading and section.
pub(crate) const RECENT_LINES: usize = 400;

/// Intermediate form shared by the layout front-ends.
#[derive(Debug)]
pub(crate) enum Block<'a> {
    /// A line of prose or a heading (markup removed).
    Text(Cow<'a, str>),
    /// A markdown source line, cleaned only if it is needed as a heading.
    Markup(&'a str),
    /// A table: rows of cells, each with the line it starts on.
    Grid(Vec<GridRow>),
    /// Something the front-end could not place (reported, not dropped).
    Warn(Warning),
}

/// A file table has a handful of columns; cells beyond this many in one row
/// are not kept (so a line of a million `|` costs nothing).
pub(crate) const MAX_ROW_CELLS: usize = 64;
/// Table cells kept per document. KB articles have a few thousand; the cap
/// bounds memory on hostile input. Beyond it, the rest is not read as tables.
pub(crate) const MAX_CELLS: usize = 1_000_000;

/// Where a front-end puts its blocks. Text lines are only ever used as
/// headings of the next table, so only the last few before a table are
/// kept; table cells are counted against [`MAX_CELLS`].
pub(crate) struct Sink<'a> {
    blocks: Vec<Block<'a>>,
    texts: std::collections::VecDeque<Block<'a>>,
    cells_left: usize,
    over_budget: bool,
}

impl<'a> Sink<'a> {
    pub(crate) fn new() -> Self {
        Sink {
            blocks: Vec::new(),
            texts: std::collections::VecDeque::new(),
            cells_left: MAX_CELLS,
            over_budget: false,
        }
    }

    /// A line of prose or a heading (`Block::Text` or `Block::Markup`).
    pub(crate) fn text(&mut self, b: Block<'a>) {
        if self.texts.len() >= RECENT_LINES {
            self.texts.pop_front();
        }
        self.texts.push_back(b);
    }

    /// Count `n` cells of a row starting at `line`; false (and one warning)
    /// once the document's budget is spent.
    pub(crate) fn take_cells(&mut self, n: usize, line: usize) -> bool {
        if let Some(left) = self.cells_left.checked_sub(n) {
            self.cells_left = left;
            return true;
        }
        if !self.over_budget {
            self.over_budget = true;
            self.warn(
                line,
                format!(
                    "more than {MAX_CELLS} table cells; the rest of the input is not read as tables"
                ),
            );
        }
        false
    }

    pub(crate) fn cells_left(&self) -> usize {
        self.cells_left
    }

    pub(crate) fn grid(&mut self, rows: Vec<GridRow>) {
        if rows.is_empty() {
            return;
        }
        self.blocks.extend(self.texts.drain(..));
        self.blocks.push(Block::Grid(rows));
    }

    pub(crate) fn warn(&mut self, line: usize, message: String) {
        self.blocks.push(Block::Warn(Warning { line, message }));
    }

    /// Lines after the last table cannot be headings: they are dropped.
    pub(crate) fn finish(self) -> Vec<Block<'a>> {
        self.blocks
    }
}

#[derive(Debug, Clone)]
pub(crate) struct GridRow {
    pub line: usize,
    pub cells: Vec<Cell>,
    /// Text layout: rows are cut from a cell stream, and the last cell may
    /// have swallowed the next line's text.
    pub from_stream: bool,
}

impl GridRow {
    /// A row of a table written on one line: every cell on `line`.
    pub(crate) fn on_line(line: usize, cells: impl IntoIterator<Item = String>) -> Self {
        GridRow {
            line,
            cells: cells.into_iter().map(|text| Cell { line, text }).collect(),
            from_stream: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub line: usize,
    pub text: String,
}
