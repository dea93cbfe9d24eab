//! Checks turn the package model into [`Finding`](crate::finding::Finding)s.
//!
//! - [`integrity`]: the package against itself (names, references, digests,
//!   container index, deltas).

pub mod integrity;
