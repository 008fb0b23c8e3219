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
