//! One module per stage of the pipeline.

pub mod bronze_to_silver;
pub mod check_contracts;
pub mod forget_player;
pub mod gen_fixtures;
pub mod ingest_drain;
pub mod load_mart;
pub mod maintain_lake;
pub mod optimize_campaigns;
pub mod score_ltv;
pub mod silver_to_gold;
pub mod train_ltv;
