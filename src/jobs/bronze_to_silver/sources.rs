//! AppsFlyer installs, ad spend and the campaign list: judged, deduplicated, typed for Silver.

use polars::prelude::*;

use super::bronze::{Judged, records};
use crate::contracts::judge::{
    AD_SPEND_SOURCE, CAMPAIGN_SOURCE, INSTALL_SOURCE, judge_source as check,
};
use crate::contracts::{ContractSet, Rule, Violation};
use crate::lake::TableSpec;
use crate::studio::Studio;
use crate::tables::bronze;

/// Rows that passed, shaped for their Silver table, and the rejects.
pub struct Refined {
    pub rows: DataFrame,
    pub judged: Judged,
}

/// Earliest ingest first, so `keep first` keeps what arrived first and `keep last` the latest.
fn by_arrival() -> [PlSmallStr; 3] {
    ["ingest_ts".into(), "source".into(), "source_offset".into()]
}

/// Installs, one per install id: Push and Pull report the same install, and the first copy
/// to arrive is kept. The game comes from the app id, through the studio config.
pub fn installs(
    frame: DataFrame,
    contracts: &ContractSet,
    studio: &Studio,
) -> PolarsResult<Refined> {
    let mut judged = Judged::default();
    let app_ids = frame.column("app_id")?.str()?.clone();
    let mut games: Vec<Option<String>> = Vec::with_capacity(frame.height());
    for (record, app_id) in records(&frame)?.iter().zip(app_ids.iter()) {
        let (_, mut verdict) = check(contracts, INSTALL_SOURCE, record);
        let game = app_id.and_then(|id| studio.game_of_app(id));
        if verdict.is_valid() && game.is_none() {
            verdict.violations.push(Violation {
                field: "app_id".into(),
                rule: Rule::UnknownApp,
                message: format!(
                    "app id `{}` is not listed under any game of the studio config",
                    app_id.unwrap_or_default()
                ),
            });
        }
        games.push(game.map(|g| g.to_string()));
        judged.push(&bronze::ATTRIBUTION, record, verdict);
    }
    let mut frame = frame;
    frame.with_column(Column::new("game_id".into(), games))?;
    let rows = frame
        .filter(&judged.mask())?
        .lazy()
        .sort(by_arrival(), SortMultipleOptions::default())
        .unique_stable_generic(Some(vec![col("install_id")]), UniqueKeepStrategy::First)
        .select([
            col("install_id"),
            col("player_id"),
            col("game_id"),
            col("app_id"),
            col("media_source"),
            col("campaign_id"),
            col("campaign_name"),
            col("adset_id"),
            col("creative_id"),
            col("platform"),
            col("country_code"),
            col("install_cost_usd"),
            col("install_timestamp").alias("install_ts"),
            col("install_date"),
            col("ingest_ts"),
        ])
        .sort(
            ["install_date", "install_id"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(Refined { rows, judged })
}

/// Spend rows, the latest report winning for each day × campaign × country × platform.
pub fn ad_spend(frame: DataFrame, contracts: &ContractSet) -> PolarsResult<Refined> {
    latest_per_key(
        frame,
        contracts,
        AD_SPEND_SOURCE,
        &bronze::AD_SPEND,
        &["spend_date", "campaign_id", "country_code", "platform"],
    )
}

/// The campaign list, the latest snapshot winning for each campaign.
pub fn campaigns(frame: DataFrame, contracts: &ContractSet) -> PolarsResult<Refined> {
    latest_per_key(
        frame,
        contracts,
        CAMPAIGN_SOURCE,
        &bronze::CAMPAIGNS,
        &["campaign_id"],
    )
}

fn latest_per_key(
    frame: DataFrame,
    contracts: &ContractSet,
    source: &str,
    table: &TableSpec,
    key: &[&str],
) -> PolarsResult<Refined> {
    let mut judged = Judged::default();
    for record in records(&frame)? {
        let (_, verdict) = check(contracts, source, &record);
        judged.push(table, &record, verdict);
    }
    let rows = frame
        .filter(&judged.mask())?
        .lazy()
        .sort(by_arrival(), SortMultipleOptions::default())
        .unique_stable_generic(
            Some(key.iter().map(|k| col(*k)).collect()),
            UniqueKeepStrategy::Last,
        )
        .sort(
            key.iter()
                .copied()
                .map(PlSmallStr::from)
                .collect::<Vec<_>>(),
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(Refined { rows, judged })
}
