//! kbinspect's integration tests, one binary (one link of the library
//! instead of one per file). Each module is one area; `common` holds the
//! helpers (corpus lookup, oracles, sample packages).
//!
//! Tests that need the real packages read them through `KBINSPECT_CORPUS`
//! (see the README); tests that need an oracle tool (cabextract, 7zz,
//! osslsigncode, gcab, wimlib-imagex) skip with a message when it is absent,
//! unless `KBINSPECT_REQUIRE_TOOLS=1`, which `.ci/run` sets.

#[macro_use]
mod common;
mod msdelta_support;

mod cli_batch;
mod cli_inputs;
mod cli_meta;
mod cli_reports;
mod cli_ux;
mod cli_width;
mod container_cli;
mod container_diff;
mod container_large;
mod container_malformed;
mod container_mutation;
mod container_oracle;
mod corpus;
mod decode_ahead;
mod extract_cli;
mod extract_expand;
mod extract_safety;
mod gcab_oracle;
mod hostile_anomalies;
mod hostile_extract;
mod hostile_limits;
mod hostile_proptest;
mod hostile_proptest_folders;
mod hostile_ratio;
mod hostile_resources;
mod hostile_round2;
mod hostile_verdict;
mod hostile_xml_cli;
mod kb_cli;
mod kb_golden;
mod kb_hostile;
mod kb_layouts;
mod kb_memory;
mod kb_roundtrip;
mod list_decode;
mod lzx_differential;
mod lzx_instructions;
mod msdelta_chain;
mod msdelta_cli;
mod msdelta_header;
mod msdelta_pe_real;
mod msdelta_proptest;
mod msdelta_selfcheck;
mod msdelta_sourceless;
mod msdelta_vectors;
mod progress;
mod readme;
mod regressions;
mod sample_cabwrite;
mod sample_container;
mod sample_kb;
mod sample_model;
mod sample_oracles;
mod sample_pe;
mod sample_reproduce;
mod sample_variants;
mod servicing_dcm;
mod servicing_dcm_wcp;
mod servicing_fixture;
mod servicing_hostile;
mod servicing_pe;
mod servicing_xml_differential;
mod threads;
mod trust_ecdsa;
mod trust_generated;
mod trust_osslsigncode;
mod verify_codes;
mod verify_kb;
mod verify_kb4538483;
mod verify_kb_rows;
mod verify_kb_scale;
mod verify_memory;
mod verify_real;
mod verify_samples;
