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

/// Sets the allocator up for the stages that build and drop buffers of a hundred MB or more
/// over and over: the pLTV stages add up a million players' days per window, the drain and
/// the medallion stages build each batch's or slice's Arrow columns and Parquet pages.
/// ingest-drain, bronze-to-silver, silver-to-gold, `check-contracts validate`, train-ltv,
/// score-ltv and ltv_bench call it first.
///
/// - Freed memory is never handed back to the kernel (`purge_delay` -1). By default mimalloc
///   returns it after a second, and the next buffer of that size faults fresh pages in: on
///   these VMs about 2 ms per MB (allocating 350 MB took 0.77 s). A job's memory stays at its
///   peak until it exits, which is what it needed anyway.
/// - Memory from the kernel may come in 2 MiB pages (transparent huge pages, which these
///   machines give on request): one fault per 2 MiB instead of per 4 KiB.
///
/// Together they made scoring 1.33M players about 10% faster (ltv_bench, 4.8-5.1 s to
/// 4.3-4.7 s). A drain of 2 million events from files ran about 7% faster (mean of 8 pairs,
/// 12.85 s to 11.99 s), its system CPU about halved, its peak 100-140 MB higher. On a 10M-event
/// day (two pairs) bronze-to-silver took 56-64 s instead of 69-71 s, its system CPU 4-5 s
/// instead of 15.5 s, and silver-to-gold 18.7-20.0 s instead of 20.8-21.9 s; their peaks rose
/// from 2.5-2.6 GB to 2.8-3.0 GB, under #4's 4 GB. `check-contracts validate` of that day
/// took 21.5-22.7 s instead of 22.6-24.8 s (four pairs, on another machine), its peak 1.8 GB
/// instead of 1.6 GB.
pub fn tune_allocator() {
    /// mimalloc 3's `mi_option_purge_delay` (libmimalloc-sys names no constant for it).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table; any value of a
    // known option is valid, and it may be called at any time, from any thread.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(libmimalloc_sys::mi_option_large_os_pages, 1);
    }
}
