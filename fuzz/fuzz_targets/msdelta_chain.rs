//! Fuzz a basis chain through `msdelta::ChainRebuilder` under a small
//! memory cap: the input is up to 8 links, each a kind byte, a 24-bit
//! little-endian length and that many bytes. The kind picks the recipe
//! (stored, delta on nothing, delta on another link, copy of another link)
//! and the basis. Fuzzed TargetSizes, cycles, self-references and deep
//! chains must end in an error within the limits, never a panic, a hang or
//! an allocation past `max_target_size`; a rebuilt file never exceeds it.
#![no_main]

use std::borrow::Cow;

use kbinspect::msdelta::{ChainRebuilder, DeltaLimits, Recipe, Step};
use libfuzzer_sys::fuzz_target;

const CAP: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut links: Vec<(u8, &[u8])> = Vec::new();
    let mut rest = data;
    while links.len() < 8 {
        let Some((head, tail)) = rest.split_first_chunk::<4>() else {
            break;
        };
        let len = (u32::from_le_bytes([head[1], head[2], head[3], 0]) as usize).min(tail.len());
        links.push((head[0], &tail[..len]));
        rest = &tail[len..];
    }
    if links.is_empty() {
        return;
    }
    let n = links.len() as u32;
    let limits = DeltaLimits {
        max_target_size: CAP,
        max_window: 2 * CAP,
        max_chain_depth: 6,
        ..DeltaLimits::default()
    };
    let fetch = |id: &u32| -> Result<Step<'_, u32>, String> {
        let &(kind, bytes) = links.get(*id as usize).ok_or("no such link")?;
        let basis = u32::from(kind >> 2) % n;
        let recipe = match kind & 3 {
            0 => Recipe::Stored(Cow::Borrowed(bytes)),
            1 => Recipe::Delta { delta: Cow::Borrowed(bytes), basis: None },
            2 => Recipe::Delta { delta: Cow::Borrowed(bytes), basis: Some(basis) },
            _ => Recipe::Copy { basis },
        };
        Ok(Step { recipe, expected: None })
    };
    let mut r = ChainRebuilder::new(limits, fetch).with_cache_budget(CAP as usize);
    for target in 0..n {
        if let Ok(out) = r.rebuild(&target) {
            // A stored link is as long as its input; anything rebuilt is capped.
            assert!(out.len() as u64 <= CAP.max(data.len() as u64));
        }
        assert!(r.cached_bytes() <= CAP as usize + data.len());
    }
});
