//! One module per stage of the pipeline.

pub mod check_contracts;
pub mod gen_fixtures;
pub mod ingest_drain;
