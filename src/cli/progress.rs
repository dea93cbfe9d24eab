//! Progress bars on stderr, only when it is a terminal: the library says
//! how far it is ([`kbinspect::container::Progress`]: stages with totals
//! known up front, a cabinet each, nested), this draws it with indicatif.
//! The bar shows the innermost stage; when a nested cabinet is done, its
//! parent's again. Nothing at all is written when stderr is not a
//! terminal (the library is then given no progress to report to).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use kbinspect::container::{Progress, ProgressHandle, Unit};

struct Level {
    what: String,
    unit: Unit,
    total: u64,
    position: u64,
}

/// One bar: the stages of one load or walk.
struct TermBar {
    bar: ProgressBar,
    multi: MultiProgress,
    added: std::sync::atomic::AtomicBool,
    /// Before the stage's name: which input (`diff`: "old", "new").
    label: String,
    stack: Mutex<Vec<Level>>,
}

fn style(unit: Unit) -> ProgressStyle {
    let template = match unit {
        Unit::Bytes => "{msg} [{bar:30}] {bytes}/{total_bytes} {elapsed}",
        Unit::Files => "{msg} [{bar:30}] {pos}/{len} files {elapsed}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl TermBar {
    fn show(&self, l: &Level) {
        // The last part of a tree path, escaped: a package names it.
        let name = l.what.rsplit(['/', '\\']).next().unwrap_or(&l.what);
        let name = super::term::escape(name);
        let short = crate::render::fit::shorten_middle(&name, 40);
        // Each call may draw: the position goes to 0 first, so no frame
        // shows one stage's position over another's total.
        self.bar.set_position(0);
        self.bar.set_message(format!("{}{short}", self.label));
        self.bar.set_style(style(l.unit));
        self.bar.set_length(l.total);
        self.bar.set_position(l.position);
    }

    fn stack(&self) -> std::sync::MutexGuard<'_, Vec<Level>> {
        self.stack.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Progress for TermBar {
    fn begin(&self, what: &str, unit: Unit, total: u64) {
        let mut st = self.stack();
        st.push(Level {
            what: what.to_string(),
            unit,
            total,
            position: 0,
        });
        if let Some(l) = st.last() {
            self.show(l);
        }
        // Drawn from the first stage on, set up (not an empty bar first).
        if !self.added.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.multi.add(self.bar.clone());
        }
    }

    fn position(&self, position: u64) {
        let mut st = self.stack();
        if let Some(l) = st.last_mut() {
            l.position = position;
            self.bar.set_position(position);
        }
    }

    fn end(&self) {
        let mut st = self.stack();
        st.pop();
        if let Some(l) = st.last() {
            self.show(l);
        }
    }
}

/// The bars of one command; cleared when finished or dropped.
pub struct Bars {
    multi: Option<MultiProgress>,
    bars: Vec<Arc<TermBar>>,
    counters: Vec<ProgressBar>,
}

impl Bars {
    /// Bars on stderr when it is a terminal; else none.
    pub fn new() -> Bars {
        Bars {
            multi: std::io::stderr().is_terminal().then(MultiProgress::new),
            bars: Vec::new(),
            counters: Vec::new(),
        }
    }

    /// A bar for one load or walk (`label` before its stage's name), as
    /// the library takes it: `None` when stderr is not a terminal.
    pub fn handle(&mut self, label: &str) -> Option<ProgressHandle> {
        let multi = self.multi.as_ref()?;
        let bar = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden())
            .with_style(style(Unit::Bytes));
        let tb = Arc::new(TermBar {
            bar,
            multi: multi.clone(),
            added: std::sync::atomic::AtomicBool::new(false),
            label: label.to_string(),
            stack: Mutex::new(Vec::new()),
        });
        self.bars.push(tb.clone());
        Some(ProgressHandle(tb))
    }

    /// A plain counter (`verify A B…`: packages done of all), or `None`.
    pub fn counter(&mut self, what: &str, total: u64) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        self.counters.push(bar.clone());
        Some(bar)
    }

    /// Clear every bar: the report comes next.
    pub fn finish(&mut self) {
        for b in self.bars.drain(..) {
            b.bar.finish_and_clear();
        }
        for b in self.counters.drain(..) {
            b.finish_and_clear();
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.finish();
    }
}
