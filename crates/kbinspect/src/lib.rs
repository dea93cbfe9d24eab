//! kbinspect: look inside Windows update packages (`.msu`, `.cab`, expanded
//! folders) without Windows.
//!
//! Data flows one way: [`container`] opens the input and streams its members;
//! [`servicing`] parses mums, manifests and container indexes; [`kb`] reads
//! the file table of a Knowledge Base article; [`check`] turns them into
//! [`finding::Finding`]s; [`report`] renders tables and JSON.

pub mod check;
pub mod container;
pub mod digest;
pub mod extract;
pub mod finding;
pub mod kb;
pub mod model;
pub mod msdelta;
pub mod pe;
pub mod report;
pub mod servicing;
pub mod time;
pub mod trust;
