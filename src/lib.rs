//! The LTV lakehouse for game studios.
//!
//! Each stage is a binary in `src/bin/` that parses its flags and calls its job in
//! `src/jobs/`; the modules below are what the stages share.

pub mod ad_platforms;
pub mod alerts;
pub mod cli;
pub mod contracts;
pub mod date_range;
pub mod domain;
pub mod env;
pub mod exit_codes;
pub mod jobs;
pub mod lake;
pub mod ltv;
pub mod money;
pub mod privacy;
pub mod run;
pub mod studio;
pub mod tables;
pub mod telemetry;
pub mod wire;

/// Every binary, test and bench of the crate allocates through mimalloc. The stages build and
/// drop buffers of tens of megabytes per batch (a file's text, Arrow columns, Parquet pages);
/// glibc's malloc hands each back to the kernel, and the next batch faulted fresh pages in:
/// a fifth of a drain's CPU samples were in the kernel, most of them page faults.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
