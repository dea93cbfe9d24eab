//! Checks turn the package model into [`Finding`](crate::finding::Finding)s.
//!
//! - [`integrity`]: the package against itself (names, references, digests,
//!   container index, deltas).
//! - [`kb`]: the package against the file tables of its KB article.
//! - [`diff`]: two builds of an update against each other.

pub mod anomaly;
pub mod diff;
pub mod integrity;
pub mod kb;
pub mod signature;
pub mod verdict;
