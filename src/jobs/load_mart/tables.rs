//! The mart tables load-mart fills, each from one Gold table, and how a Gold day becomes mart
//! rows. The DDL is in `sql/mart/`; the columns here are the mart's names, in its order.

use std::collections::HashMap;

use polars::prelude::*;

use crate::jobs::silver_to_gold::ratio;
use crate::lake::TableSpec;
use crate::tables::gold;

/// The dimension rows the mart denormalises into its tables, read once a run.
pub struct Dimensions {
    /// `game_id`, `player_id`, `acquisition_channel`, `lifetime_revenue`, `is_whale`,
    /// `last_active_date`: one row per player.
    pub players: ByInstallDay,
    /// `campaign_id`, `campaign_name`, `ad_network`.
    pub campaigns: DataFrame,
    /// The newest day of `gold.player_ltv_scores`: `game_id`, `player_id`, the predictions
    /// and `model_version`.
    pub predictions: ByInstallDay,
}

/// The column a per-player dimension is split on.
const INSTALL_DAY: &str = "acquisition_date";

/// Rows of a per-player dimension, split by the players' install day. A day of
/// `gold.player_lifecycle` (one install day) is joined to that day's players only, not to all
/// of them: a 31-day backfill of a million players would otherwise hash the whole dimension
/// again for every day.
pub struct ByInstallDay {
    days: HashMap<i32, DataFrame>,
    /// The columns, for a day without rows.
    empty: DataFrame,
}

impl ByInstallDay {
    /// Splits `rows` by their `acquisition_date`, which the parts no longer carry.
    pub fn split(rows: DataFrame) -> PolarsResult<Self> {
        let empty = rows.clear().drop(INSTALL_DAY)?;
        let mut days = HashMap::new();
        for part in rows.partition_by([INSTALL_DAY], true)? {
            if let Some(day) = part.column(INSTALL_DAY)?.date()?.phys.get(0) {
                days.insert(day, part.drop(INSTALL_DAY)?);
            }
        }
        Ok(ByInstallDay { days, empty })
    }

    /// The rows of the players installed on the days that `rows` (with an `acquisition_date`)
    /// hold.
    fn of_days_in(&self, rows: &DataFrame) -> PolarsResult<DataFrame> {
        let installed = rows.column(INSTALL_DAY)?.date()?.phys.unique()?;
        let mut parts = installed
            .iter()
            .flatten()
            .filter_map(|day| self.days.get(&day));
        let Some(first) = parts.next() else {
            return Ok(self.empty.clone());
        };
        let mut all = first.clone();
        for part in parts {
            all.vstack_mut(part)?;
        }
        Ok(all)
    }
}

/// A mart table loaded from the partitions of one Gold table.
pub struct MartTable {
    /// Schema-qualified name, as in `sql/mart/`.
    pub name: &'static str,
    /// The Gold table whose days are loaded; its date column is the mart's `date_column`.
    pub source: &'static TableSpec,
    pub date_column: &'static str,
    /// The mart's primary key: what a reloaded row is matched on.
    pub key: &'static [&'static str],
    /// Range-partitioned by month of `date_column`; load-mart creates the partitions.
    pub monthly_partitions: bool,
    /// Carries the newest predictions of `gold.player_ltv_scores`, and is republished when
    /// they change.
    pub predicted: bool,
    /// Written by a stage a studio may not run yet (the optimizer): absent in the lake, it is
    /// skipped rather than an error.
    pub optional: bool,
    /// A Gold day's rows as mart rows (mart column names, mart order).
    pub shape: fn(DataFrame, &Dimensions) -> PolarsResult<DataFrame>,
}

impl MartTable {
    /// The name without the schema, for staging tables and logs.
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

pub const PLAYER_ANALYTICS_DAILY: MartTable = MartTable {
    name: "mart.player_analytics_daily",
    source: &gold::PLAYER_LIFECYCLE,
    date_column: "acquisition_date",
    key: &["acquisition_date", "game_name", "player_id"],
    monthly_partitions: true,
    predicted: true,
    optional: false,
    shape: player_rows,
};

pub const CAMPAIGN_DAILY: MartTable = MartTable {
    name: "mart.campaign_daily",
    source: &gold::CAMPAIGN_DAILY,
    date_column: "install_date",
    key: &["install_date", "game_name", "campaign_id"],
    monthly_partitions: false,
    predicted: false,
    optional: false,
    shape: campaign_rows,
};

pub const COHORT_RETENTION: MartTable = MartTable {
    name: "mart.cohort_retention",
    source: &gold::LTV_COHORTS,
    date_column: "cohort_date",
    key: &["cohort_date", "game_name", "day_n"],
    monthly_partitions: false,
    predicted: false,
    optional: false,
    shape: retention_rows,
};

pub const COHORT_LTV: MartTable = MartTable {
    name: "mart.cohort_ltv",
    source: &gold::LTV_COHORTS,
    date_column: "cohort_date",
    key: &["cohort_date", "game_name", "day_n"],
    monthly_partitions: false,
    predicted: false,
    optional: false,
    shape: ltv_rows,
};

pub const KPI_DAILY: MartTable = MartTable {
    name: "mart.kpi_daily",
    source: &gold::KPI_DAILY,
    date_column: "activity_date",
    key: &["activity_date", "game_name"],
    monthly_partitions: false,
    predicted: false,
    optional: false,
    shape: kpi_rows,
};

pub const CAMPAIGN_ACTIONS: MartTable = MartTable {
    name: "mart.campaign_actions",
    source: &gold::CAMPAIGN_ACTIONS,
    date_column: "decided_on",
    key: &["idempotency_key"],
    monthly_partitions: false,
    predicted: false,
    optional: true,
    shape: action_rows,
};

/// Every table a load fills, in load order.
pub const MART_TABLES: [&MartTable; 6] = [
    &PLAYER_ANALYTICS_DAILY,
    &CAMPAIGN_DAILY,
    &COHORT_RETENTION,
    &COHORT_LTV,
    &KPI_DAILY,
    &CAMPAIGN_ACTIONS,
];

fn null_of(name: &str, dtype: DataType) -> Expr {
    lit(NULL).cast(dtype).alias(name)
}

/// `gold.player_lifecycle` rows with their player and campaign dimensions and their newest
/// predictions. A player past the scored days (180) has no score; their matured horizons
/// show the actual revenue. Creative and device are not in the attribution feeds we read.
fn player_rows(lifecycle: DataFrame, dims: &Dimensions) -> PolarsResult<DataFrame> {
    let player = [col("game_id"), col("player_id")];
    let predicted_or_actual = |horizon: i32, actual: &str| {
        coalesce(&[
            col(format!("predicted_ltv_d{horizon}")),
            when(col("days_observed").gt_eq(lit(horizon)))
                .then(col(actual))
                .otherwise(lit(NULL).cast(DataType::Float64)),
        ])
        .alias(format!("predicted_ltv_d{horizon}"))
    };
    let players = dims.players.of_days_in(&lifecycle)?;
    let predictions = dims.predictions.of_days_in(&lifecycle)?;
    lifecycle
        .lazy()
        .join(
            players.lazy(),
            player.clone(),
            player.clone(),
            JoinArgs::new(JoinType::Left),
        )
        .join(
            predictions.lazy(),
            player.clone(),
            player,
            JoinArgs::new(JoinType::Left),
        )
        .join(
            dims.campaigns.clone().lazy(),
            [col("campaign_id")],
            [col("campaign_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select([
            col("player_id"),
            col("acquisition_date"),
            col("campaign_id"),
            col("adset_id"),
            null_of("creative_id", DataType::String),
            col("game_id").alias("game_name"),
            col("country_code").alias("country"),
            col("platform"),
            null_of("device_category", DataType::String),
            coalesce(&[col("acquisition_channel"), col("media_source")])
                .alias("acquisition_channel"),
            col("ad_network"),
            col("campaign_name"),
            col("d0_sessions"),
            col("d0_minutes_played"),
            col("d0_iap_revenue"),
            col("d0_ad_revenue"),
            col("d1_retained").alias("d1_retention"),
            col("d3_retained").alias("d3_retention"),
            col("d7_retained").alias("d7_retention"),
            col("d7_total_revenue"),
            col("d7_iap_revenue"),
            predicted_or_actual(7, "d7_total_revenue"),
            predicted_or_actual(30, "revenue_d30"),
            predicted_or_actual(180, "revenue_d180"),
            col("ltv_confidence"),
            col("revenue_d30").alias("cumulative_revenue_d30"),
            col("revenue_d90").alias("cumulative_revenue_d90"),
            col("revenue_d180").alias("cumulative_revenue_d180"),
            col("last_active_date"),
            col("install_cost_usd"),
            ratio(
                predicted_or_actual(30, "revenue_d30"),
                col("install_cost_usd"),
            )
            .alias("predicted_roas_d30"),
            ratio(col("revenue_d30"), col("install_cost_usd")).alias("actual_roas_d30"),
            col("is_whale").fill_null(lit(false)),
            col("is_payer"),
            col("churn_risk").alias("churn_risk_score"),
            col("predicted_churn_d7"),
            col("install_ts"),
            col("is_minor"),
            col("lifetime_revenue"),
            col("days_observed"),
            col("model_version").alias("prediction_version"),
        ])
        .collect()
}

fn campaign_rows(campaigns: DataFrame, dims: &Dimensions) -> PolarsResult<DataFrame> {
    let mut columns = vec![
        col("install_date"),
        col("game_id").alias("game_name"),
        col("campaign_id"),
        col("campaign_name"),
        col("media_source").alias("acquisition_channel"),
        col("ad_network"),
    ];
    columns.extend(
        [
            "spend_usd",
            "installs",
            "network_installs",
            "cpi_usd",
            "revenue_d0",
            "revenue_d1",
            "revenue_d3",
            "revenue_d7",
            "revenue_d14",
            "revenue_d30",
            "roas_d0",
            "roas_d1",
            "roas_d3",
            "roas_d7",
            "roas_d14",
            "roas_d30",
            "payback_day",
            "days_observed",
        ]
        .map(col),
    );
    campaigns
        .lazy()
        .join(
            dims.campaigns.clone().lazy(),
            [col("campaign_id")],
            [col("campaign_id")],
            JoinArgs::new(JoinType::Left),
        )
        .select(columns)
        .collect()
}

fn cohort_columns(cohorts: DataFrame, measures: &[&str]) -> PolarsResult<DataFrame> {
    let mut columns = vec![
        col("cohort_date"),
        col("game_id").alias("game_name"),
        col("day_n"),
        col("installs"),
    ];
    columns.extend(measures.iter().map(|m| col(*m)));
    columns.push(col("is_mature"));
    cohorts.lazy().select(columns).collect()
}

fn retention_rows(cohorts: DataFrame, _: &Dimensions) -> PolarsResult<DataFrame> {
    cohort_columns(
        cohorts,
        &[
            "retained_calendar",
            "retention_calendar",
            "retained_24h",
            "retention_24h",
        ],
    )
}

fn ltv_rows(cohorts: DataFrame, _: &Dimensions) -> PolarsResult<DataFrame> {
    cohort_columns(
        cohorts,
        &[
            "cumulative_revenue",
            "revenue_per_install",
            "payers_to_date",
        ],
    )
}

fn kpi_rows(kpis: DataFrame, _: &Dimensions) -> PolarsResult<DataFrame> {
    let columns: Vec<Expr> = gold::KPI_DAILY
        .columns
        .iter()
        .map(|c| match c.name {
            "game_id" => col("game_id").alias("game_name"),
            name => col(name),
        })
        .collect();
    kpis.lazy().select(columns).collect()
}

/// The ledger as the mart names it; the network's AppsFlyer id stays in the lake.
fn action_rows(actions: DataFrame, _: &Dimensions) -> PolarsResult<DataFrame> {
    let columns: Vec<Expr> = gold::CAMPAIGN_ACTIONS
        .columns
        .iter()
        .filter(|c| c.name != "media_source")
        .map(|c| match c.name {
            "game_id" => col("game_id").alias("game_name"),
            "country_code" => col("country_code").alias("country"),
            name => col(name),
        })
        .collect();
    actions.lazy().select(columns).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(days: &[i32]) -> Column {
        Column::new(INSTALL_DAY.into(), days.to_vec())
            .cast(&DataType::Date)
            .unwrap()
    }

    #[test]
    fn a_day_of_players_is_joined_to_that_days_dimension_rows_only() {
        let mut players = df!(
            "player_id" => ["a", "b", "c", "d"],
            "is_whale" => [true, false, false, true],
        )
        .unwrap();
        players.with_column(dates(&[1, 2, 2, 3])).unwrap();
        let split = ByInstallDay::split(players).unwrap();

        let mut day_two = df!("player_id" => ["b", "c"]).unwrap();
        day_two.with_column(dates(&[2, 2])).unwrap();
        let found = split.of_days_in(&day_two).unwrap();
        assert_eq!(found.get_column_names(), ["player_id", "is_whale"]);
        let ids: Vec<_> = found
            .column("player_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ids, [Some("b"), Some("c")]);

        // Rows of two days find both days' players; a day without players finds none.
        let mut two_days = df!("player_id" => ["a", "d"]).unwrap();
        two_days.with_column(dates(&[1, 3])).unwrap();
        assert_eq!(split.of_days_in(&two_days).unwrap().height(), 2);
        let mut no_players = df!("player_id" => ["z"]).unwrap();
        no_players.with_column(dates(&[9])).unwrap();
        let none = split.of_days_in(&no_players).unwrap();
        assert_eq!(none.height(), 0);
        assert_eq!(none.get_column_names(), ["player_id", "is_whale"]);
    }
}
