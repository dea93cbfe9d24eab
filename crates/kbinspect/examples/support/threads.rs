//! Shared by the benchmark examples: their thread budget.

/// `RAYON_NUM_THREADS` when set (bench/run.sh's one-core runs), else every
/// core, as the commands have. The decode context owns the threads, so the
/// variable alone would not limit a load.
pub fn context() -> kbinspect::container::DecodeContext {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .and_then(std::num::NonZeroUsize::new)
        .map_or_else(
            kbinspect::container::DecodeContext::default,
            kbinspect::container::DecodeContext::new,
        )
}
