//! One module per stage of the pipeline.

pub mod gen_fixtures;
