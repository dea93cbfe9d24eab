//! What decoding shares between folders and walks: the buffers kept for
//! reuse and the thread budget. One [`DecodeContext`] per command (or per
//! caller that wants a budget of its own); its memory goes when the last
//! clone is dropped.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// LZX windows kept for reuse (2 MiB + a frame each at the largest size).
const POOLED_WINDOWS: usize = 3;
/// Output batches kept for reuse: two pipes' worth, and a few spare.
const POOLED_BATCHES: usize = 2 * super::stream::PIPE_DEPTH + 8;

/// The buffer pools and thread budget of decoding (and of the rebuilds and
/// checks that run after it).
///
/// - **Threads.** With a budget of `N`, a walk decodes on its own thread
///   and at most `N - 1` helper threads at a time (shared by every nesting
///   level and by every walk using this context); rebuilds and other
///   parallel work run on a pool of `N` threads, built on first use.
///   `N = 1` starts no thread at all: everything runs on the caller's.
/// - **Buffers.** LZX windows (zeroing 2 MiB per folder showed up in
///   profiles) and the 256 KiB batches that carry decoded output between
///   threads (fresh pages cost more to fault in than the copying they
///   carry) are kept between folders and walks, up to ~18 MB, until
///   [`DecodeContext::release_buffers`] or the last clone is dropped.
///
/// Clones share everything: pass one to each walk of a command.
///
/// ```
/// use std::num::NonZeroUsize;
/// use kbinspect::container::DecodeContext;
/// let single = DecodeContext::new(NonZeroUsize::MIN);
/// assert_eq!(single.threads(), 1);
/// let squares = single.map(&[1, 2, 3], |x| x * x);
/// assert_eq!(squares, [1, 4, 9]);
/// ```
#[derive(Clone)]
pub struct DecodeContext {
    shared: Arc<Shared>,
}

struct Shared {
    threads: NonZeroUsize,
    /// Decoding helper threads running now, and the most ever at once.
    helpers: AtomicUsize,
    peak_helpers: AtomicUsize,
    windows: Mutex<Vec<Vec<u8>>>,
    batches: Mutex<Vec<Vec<u8>>>,
    /// `None` inside when the pool could not be built: work then runs on
    /// the calling thread.
    pool: OnceLock<Option<rayon::ThreadPool>>,
}

impl std::fmt::Debug for DecodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeContext")
            .field("threads", &self.shared.threads)
            .field("peak_helper_threads", &self.peak_helper_threads())
            .finish_non_exhaustive()
    }
}

impl Default for DecodeContext {
    /// A budget of every core ([`std::thread::available_parallelism`]).
    fn default() -> Self {
        DecodeContext::new(all_cores())
    }
}

/// The cores this process may use (1 when that cannot be found out).
fn all_cores() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

impl DecodeContext {
    /// A context whose work uses at most `threads` threads at a time.
    pub fn new(threads: NonZeroUsize) -> Self {
        DecodeContext {
            shared: Arc::new(Shared {
                threads,
                helpers: AtomicUsize::new(0),
                peak_helpers: AtomicUsize::new(0),
                windows: Mutex::new(Vec::new()),
                batches: Mutex::new(Vec::new()),
                pool: OnceLock::new(),
            }),
        }
    }

    /// The thread budget.
    pub fn threads(&self) -> usize {
        self.shared.threads.get()
    }

    /// The most decoding helper threads that ran at once under this
    /// context so far (never more than [`threads`](Self::threads) − 1).
    pub fn peak_helper_threads(&self) -> usize {
        self.shared.peak_helpers.load(Ordering::Relaxed)
    }

    /// Free the buffers kept for reuse now (the pools refill on the next
    /// decode). The model does this when its walk is over, as the buffers
    /// would sit idle while the package is parsed and checked.
    pub fn release_buffers(&self) {
        for pool in [&self.shared.windows, &self.shared.batches] {
            if let Ok(mut p) = pool.lock() {
                *p = Vec::new();
            }
        }
    }

    /// Bytes held by the pools now.
    pub fn pooled_bytes(&self) -> usize {
        [&self.shared.windows, &self.shared.batches]
            .iter()
            .filter_map(|p| p.lock().ok())
            .map(|p| p.iter().map(Vec::capacity).sum::<usize>())
            .sum()
    }

    /// Run `f` where rayon's parallel iterators use this context's pool of
    /// [`threads`](Self::threads) threads; with a budget of 1, on the
    /// calling thread (code that must stay single-threaded then checks
    /// [`threads`](Self::threads), as [`map`](Self::map) does, since a
    /// parallel iterator outside a pool would use rayon's global one).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self.pool() {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// `f` applied to every item, results in order: on the pool, or one
    /// after the other with a budget of 1.
    pub fn map<T: Sync, R: Send>(&self, items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
        use rayon::prelude::*;
        match self.pool() {
            Some(pool) => pool.install(|| items.par_iter().map(&f).collect()),
            None => items.iter().map(f).collect(),
        }
    }

    /// `a` and `b`, in parallel on the pool, or one after the other (`a`
    /// first) with a budget of 1.
    pub fn join<RA: Send, RB: Send>(
        &self,
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        match self.pool() {
            Some(pool) => pool.install(|| rayon::join(a, b)),
            None => (a(), b()),
        }
    }

    /// True when work handed to [`install`](Self::install) runs on a pool
    /// of several threads (a budget over 1, and the pool could be built).
    pub fn parallel(&self) -> bool {
        self.pool().is_some()
    }

    fn pool(&self) -> Option<&rayon::ThreadPool> {
        if self.threads() < 2 {
            return None;
        }
        self.shared
            .pool
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads())
                    .thread_name(|i| format!("kbinspect-{i}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }

    /// A place for one more decoding thread, if the budget has one: the
    /// caller's thread counts, so at most `threads - 1` are handed out.
    /// The place is given back when the returned value drops (move it into
    /// the thread).
    pub(crate) fn helper(&self) -> Option<HelperSlot> {
        let max = self.threads() - 1;
        let s = &self.shared;
        let mut now = s.helpers.load(Ordering::Relaxed);
        loop {
            if now >= max {
                return None;
            }
            match s
                .helpers
                .compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(seen) => now = seen,
            }
        }
        s.peak_helpers.fetch_max(now + 1, Ordering::Relaxed);
        Some(HelperSlot {
            shared: self.shared.clone(),
        })
    }

    /// A zeroed or reused buffer of exactly `size` bytes for an LZX
    /// window. Stale bytes of a reused one are never read: a match may only
    /// reach back over output of its own stream.
    pub(crate) fn take_window(&self, size: usize) -> Vec<u8> {
        if let Ok(mut pool) = self.shared.windows.lock()
            && let Some(i) = pool.iter().position(|w| w.len() == size)
        {
            return pool.swap_remove(i);
        }
        vec![0; size]
    }

    pub(crate) fn give_window(&self, w: Vec<u8>) {
        if let Ok(mut pool) = self.shared.windows.lock()
            && pool.len() < POOLED_WINDOWS
        {
            pool.push(w);
        }
    }

    /// An empty buffer with room for `capacity` bytes, reused if one is kept.
    pub(crate) fn take_batch(&self, capacity: usize) -> Vec<u8> {
        if let Ok(mut pool) = self.shared.batches.lock()
            && let Some(mut b) = pool.pop()
        {
            b.clear();
            return b;
        }
        Vec::with_capacity(capacity)
    }

    /// Keep `b` for reuse if it is at least `min` bytes large.
    pub(crate) fn give_batch(&self, b: Vec<u8>, min: usize) {
        if b.capacity() < min {
            return;
        }
        if let Ok(mut pool) = self.shared.batches.lock()
            && pool.len() < POOLED_BATCHES
        {
            pool.push(b);
        }
    }
}

/// One decoding thread's place in the budget, held while it runs.
pub(crate) struct HelperSlot {
    shared: Arc<Shared>,
}

impl Drop for HelperSlot {
    fn drop(&mut self) {
        self.shared.helpers.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_stay_within_the_budget() {
        let one = DecodeContext::new(NonZeroUsize::MIN);
        assert!(one.helper().is_none(), "budget 1: the caller's thread only");
        let three = DecodeContext::new(NonZeroUsize::new(3).unwrap());
        let a = three.helper().expect("first helper");
        let b = three.helper().expect("second helper");
        assert!(three.helper().is_none(), "the caller counts as the third");
        drop(a);
        let c = three.helper().expect("a place came free");
        assert_eq!(three.peak_helper_threads(), 2);
        drop((b, c));
        assert_eq!(three.shared.helpers.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn budget_of_one_runs_on_the_calling_thread() {
        let one = DecodeContext::new(NonZeroUsize::MIN);
        let me = std::thread::current().id();
        let ids = one.map(&[0, 1, 2], |_| std::thread::current().id());
        assert!(ids.iter().all(|&id| id == me));
        let (a, b) = one.join(
            || std::thread::current().id(),
            || std::thread::current().id(),
        );
        assert_eq!((a, b), (me, me));
        assert_eq!(one.install(|| std::thread::current().id()), me);
    }

    #[test]
    fn pools_are_bounded_and_released() {
        let ctx = DecodeContext::new(NonZeroUsize::MIN);
        for _ in 0..POOLED_WINDOWS + 2 {
            ctx.give_window(vec![0; 1024]);
        }
        ctx.give_batch(vec![0; 10], 100); // too small to keep
        assert_eq!(ctx.pooled_bytes(), POOLED_WINDOWS * 1024);
        assert_eq!(ctx.take_window(1024).len(), 1024);
        ctx.release_buffers();
        assert_eq!(ctx.pooled_bytes(), 0);
    }
}
