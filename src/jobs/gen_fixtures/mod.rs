//! `gen-fixtures`: a synthetic game studio written in the wire formats the pipeline ingests.
//!
//! Output, below `--out`:
//! - `telemetry/<event date>.ndjson` — one JSON event per line, by the UTC day it happened;
//! - `attribution/pull/<install date>.csv` — AppsFlyer Pull API v5 installs report (paid installs);
//! - `attribution/push/<install date>.ndjson` — the same installs as Push API v2 messages;
//! - `ad_spend/<date>.csv` — daily spend per campaign × country × platform;
//! - `campaigns.csv` — the campaign list with budgets, status and bids;
//! - `ground_truth.csv` — each player's true revenue at D0/D7/D30/D180 and retention, simulated
//!   past the window so model accuracy can be measured;
//! - `manifest.json` — seed, range and counts.
//!
//! The same seed and range give the same bytes.

mod events;
pub mod studio;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;

use crate::date_range::DateRange;
use crate::run::{JobContext, JobReport};
use crate::wire::{
    APPSFLYER_PUSH_TIME_FORMAT, APPSFLYER_TIME_FORMAT, AdSpendRow, AppsFlyerInstallRow,
    AppsFlyerPushInstall, CampaignRow,
};
use events::Progress;
use studio::{CAMPAIGNS, COUNTRIES, GAMES, HORIZON_DAYS, Player};

#[derive(Debug, Clone, Args)]
pub struct FixtureOptions {
    /// Folder to write the studio's files into (replaced files, same names every run)
    #[arg(long, value_name = "DIR", default_value = "fixtures/studio")]
    pub out: PathBuf,

    /// Seed of the simulation: the same seed and range give the same bytes
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Installs per day across the studio's games (organic and paid)
    #[arg(long, value_name = "N", default_value_t = 400.0)]
    pub installs_per_day: f64,

    /// Write every file gzip-compressed (`.gz`)
    #[arg(long)]
    pub gzip: bool,
}

/// Figures of a generated studio, also written as `manifest.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Manifest {
    pub generator_version: u32,
    pub seed: u64,
    pub range: Option<DateRange>,
    pub installs_per_day: f64,
    pub players: u64,
    pub paid_installs: u64,
    pub payers_d180: u64,
    pub events: u64,
    pub files: Vec<String>,
}

const GENERATOR_VERSION: u32 = 1;

pub async fn run(context: JobContext, options: FixtureOptions) -> anyhow::Result<JobReport> {
    let range = context.require_range()?;
    let manifest = generate(&options, range)?;
    let mut report = JobReport {
        rows_out: manifest.events,
        ..JobReport::default()
    };
    report.detail("out", options.out.display().to_string());
    report.detail("players", manifest.players);
    report.detail("payers_d180", manifest.payers_d180);
    report.detail("files", manifest.files.len());
    Ok(report)
}

/// Writes the studio for `range` into `options.out` and returns what was written.
pub fn generate(options: &FixtureOptions, range: DateRange) -> anyhow::Result<Manifest> {
    let mut out = Output::new(&options.out, options.gzip)?;
    let mut manifest = Manifest {
        generator_version: GENERATOR_VERSION,
        seed: options.seed,
        range: Some(range),
        installs_per_day: options.installs_per_day,
        ..Manifest::default()
    };
    let bar = crate::telemetry::progress_bar(range.len_days(), "simulating install days");

    out.write_csv("campaigns.csv", campaign_rows())?;
    let mut truth = out.csv_writer("ground_truth.csv")?;
    for install_day in range.days() {
        let mut pull_rows = Vec::new();
        let mut push_rows = Vec::new();
        let mut spend: BTreeMap<String, AdSpendRow> = BTreeMap::new();
        for (game_index, game) in GAMES.iter().enumerate() {
            for campaign in CAMPAIGNS.iter() {
                let row = empty_spend_row(install_day, game_index, campaign);
                spend.insert(row.campaign_id.clone(), row);
            }
            for player in studio::installs_for_day(
                options.seed,
                game_index,
                install_day,
                options.installs_per_day,
            ) {
                manifest.players += 1;
                manifest.payers_d180 += u64::from(player.first_purchase_day().is_some());
                manifest.events += write_player_events(&mut out, options.seed, &player, range)?;
                truth.serialize(GroundTruthRow::of(&player))?;
                if let Some(campaign_index) = player.campaign {
                    manifest.paid_installs += 1;
                    let campaign = &CAMPAIGNS[campaign_index];
                    let campaign_id = studio::campaign_id(game, campaign);
                    if let Some(row) = spend.get_mut(&campaign_id) {
                        row.installs += 1;
                        row.spend_usd += player.install_cost_usd.unwrap_or_default();
                    }
                    pull_rows.push(pull_row(&player));
                    push_rows.push(push_message(&player));
                }
            }
        }
        out.write_csv(&format!("attribution/pull/{install_day}.csv"), pull_rows)?;
        out.write_ndjson(
            &format!("attribution/push/{install_day}.ndjson"),
            &push_rows,
        )?;
        out.write_csv(
            &format!("ad_spend/{install_day}.csv"),
            spend.into_values().map(finish_spend_row),
        )?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    truth.flush()?;
    drop(truth);
    manifest.files = out.finish()?;
    manifest.files.push("manifest.json".into());
    let manifest_text = serde_json::to_string_pretty(&manifest)? + "\n";
    std::fs::write(options.out.join("manifest.json"), manifest_text)
        .with_context(|| format!("writing {}", options.out.join("manifest.json").display()))?;
    Ok(manifest)
}

fn write_player_events(
    out: &mut Output,
    seed: u64,
    player: &Player,
    range: DateRange,
) -> anyhow::Result<u64> {
    let mut progress = Progress::default();
    let mut written = 0;
    for plan in &player.days {
        let date = studio::add_days(player.install_date(), plan.day);
        if date > range.last() {
            break;
        }
        let sink = out.telemetry(date)?;
        for event in events::day_events(seed, player, plan, &mut progress) {
            serde_json::to_writer(&mut *sink, &event)?;
            sink.write_all(b"\n")?;
            written += 1;
        }
    }
    Ok(written)
}

/// One line of `ground_truth.csv`: what really happened to a player over 180 days.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GroundTruthRow {
    pub eternal_player_id: String,
    pub game_title: String,
    pub install_date: NaiveDate,
    pub media_source: String,
    pub campaign_id: String,
    pub country_code: String,
    pub platform: String,
    pub is_minor: bool,
    pub consent_analytics: bool,
    pub install_cost_usd: Option<f64>,
    pub active_d1: bool,
    pub active_d7: bool,
    pub active_d30: bool,
    pub days_active_d180: u32,
    pub first_purchase_day: Option<u16>,
    pub revenue_d0: f64,
    pub revenue_d7: f64,
    pub revenue_d30: f64,
    pub revenue_d180: f64,
    pub iap_revenue_d180: f64,
    pub ad_revenue_d180: f64,
}

impl GroundTruthRow {
    fn of(player: &Player) -> Self {
        let total = |day| {
            let (iap, ads) = player.revenue_through(day);
            round_usd(iap + ads)
        };
        let (iap_d180, ads_d180) = player.revenue_through(HORIZON_DAYS);
        let game = &GAMES[player.game];
        GroundTruthRow {
            eternal_player_id: player.eternal_player_id.clone(),
            game_title: game.title.to_string(),
            install_date: player.install_date(),
            media_source: player.source.appsflyer_id().to_string(),
            campaign_id: player
                .campaign
                .map(|c| studio::campaign_id(game, &CAMPAIGNS[c]))
                .unwrap_or_default(),
            country_code: COUNTRIES[player.country].code.to_string(),
            platform: player.platform.as_str().to_string(),
            is_minor: player.is_minor,
            consent_analytics: player.consent_analytics,
            install_cost_usd: player.install_cost_usd,
            active_d1: player.active_on(1),
            active_d7: player.active_on(7),
            active_d30: player.active_on(30),
            days_active_d180: player.days.len() as u32,
            first_purchase_day: player.first_purchase_day(),
            revenue_d0: total(0),
            revenue_d7: total(7),
            revenue_d30: total(30),
            revenue_d180: total(HORIZON_DAYS),
            iap_revenue_d180: round_usd(iap_d180),
            ad_revenue_d180: round_usd(ads_d180),
        }
    }
}

fn round_usd(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

fn campaign_rows() -> Vec<CampaignRow> {
    GAMES
        .iter()
        .flat_map(|game| {
            CAMPAIGNS.iter().map(move |campaign| CampaignRow {
                campaign_id: studio::campaign_id(game, campaign),
                campaign_name: studio::campaign_name(game, campaign),
                media_source: campaign.source.appsflyer_id().to_string(),
                channel: campaign.source.channel().to_string(),
                platform: campaign.platform.as_str().to_string(),
                daily_budget_usd: 500.0,
                status: "ACTIVE".to_string(),
                bid_usd: campaign.cpi_usd,
            })
        })
        .collect()
}

fn empty_spend_row(day: NaiveDate, game_index: usize, campaign: &studio::Campaign) -> AdSpendRow {
    let game = &GAMES[game_index];
    AdSpendRow {
        date: day.to_string(),
        media_source: campaign.source.appsflyer_id().to_string(),
        campaign_id: studio::campaign_id(game, campaign),
        campaign_name: studio::campaign_name(game, campaign),
        country_code: campaign.country.to_string(),
        platform: campaign.platform.as_str().to_string(),
        spend_usd: 0.0,
        installs: 0,
        impressions: 0,
        clicks: 0,
    }
}

/// Impressions and clicks follow from installs through a fixed funnel (CTR 1.2%, CVR 25%).
fn finish_spend_row(mut row: AdSpendRow) -> AdSpendRow {
    row.spend_usd = (row.spend_usd * 100.0).round() / 100.0;
    row.clicks = row.installs * 4;
    row.impressions = row.clicks * 1000 / 12;
    row
}

fn pull_row(player: &Player) -> AppsFlyerInstallRow {
    let game = &GAMES[player.game];
    let campaign = player.campaign.map(|c| &CAMPAIGNS[c]);
    let campaign_id = campaign
        .map(|c| studio::campaign_id(game, c))
        .unwrap_or_default();
    let touch_time = player.install_time - chrono::Duration::minutes(7);
    AppsFlyerInstallRow {
        attributed_touch_type: "click".into(),
        attributed_touch_time: touch_time.format(APPSFLYER_TIME_FORMAT).to_string(),
        install_time: player
            .install_time
            .format(APPSFLYER_TIME_FORMAT)
            .to_string(),
        event_time: player
            .install_time
            .format(APPSFLYER_TIME_FORMAT)
            .to_string(),
        event_name: "install".into(),
        partner: String::new(),
        media_source: player.source.appsflyer_id().into(),
        channel: player.source.channel().into(),
        campaign: campaign
            .map(|c| studio::campaign_name(game, c))
            .unwrap_or_default(),
        adset: format!("{campaign_id}_adset{}", player.adset),
        adset_id: format!("{campaign_id}_as{}", player.adset),
        ad: format!("{campaign_id}_creative{}", player.ad),
        ad_id: format!("{campaign_id}_as{}_ad{}", player.adset, player.ad),
        campaign_id,
        cost_model: "cpi".into(),
        cost_value: player
            .install_cost_usd
            .map(|c| format!("{c:.2}"))
            .unwrap_or_default(),
        cost_currency: "USD".into(),
        region: String::new(),
        country_code: COUNTRIES[player.country].code.into(),
        language: COUNTRIES[player.country].locale.replace('_', "-"),
        appsflyer_id: player.appsflyer_id.clone(),
        customer_user_id: player.eternal_player_id.clone(),
        platform: player.platform.appsflyer_name().into(),
        device_type: player.device_model.into(),
        os_version: player.os_version.into(),
        app_version: game.app_version.into(),
        app_id: app_id(player),
        app_name: game.app_name.into(),
        is_retargeting: "false".into(),
        is_primary_attribution: "true".into(),
    }
}

fn push_message(player: &Player) -> AppsFlyerPushInstall {
    let row = pull_row(player);
    AppsFlyerPushInstall {
        event_name: row.event_name,
        appsflyer_id: row.appsflyer_id,
        customer_user_id: row.customer_user_id,
        install_time: player
            .install_time
            .format(APPSFLYER_PUSH_TIME_FORMAT)
            .to_string(),
        event_time: player
            .install_time
            .format(APPSFLYER_PUSH_TIME_FORMAT)
            .to_string(),
        attributed_touch_type: row.attributed_touch_type,
        attributed_touch_time: row.attributed_touch_time,
        media_source: row.media_source,
        af_channel: row.channel,
        campaign: row.campaign,
        af_c_id: row.campaign_id,
        af_adset: row.adset,
        af_adset_id: row.adset_id,
        af_ad: row.ad,
        af_ad_id: row.ad_id,
        af_cost_model: row.cost_model,
        af_cost_value: player.install_cost_usd,
        af_cost_currency: row.cost_currency,
        country_code: row.country_code,
        platform: row.platform,
        device_model: row.device_type,
        os_version: row.os_version,
        app_version: row.app_version,
        app_id: row.app_id,
        app_name: row.app_name,
        is_retargeting: false,
        is_primary_attribution: true,
    }
}

fn app_id(player: &Player) -> String {
    let game = &GAMES[player.game];
    match player.platform {
        crate::domain::Platform::Ios => format!("id{}", 1_400_000_000 + player.game as u64 * 7_919),
        _ => game.bundle_id.to_string(),
    }
}

/// The files of one generation run, opened on demand and closed in `finish`.
struct Output {
    root: PathBuf,
    gzip: bool,
    telemetry: BTreeMap<NaiveDate, Box<dyn Write>>,
    written: Vec<String>,
}

impl Output {
    fn new(root: &Path, gzip: bool) -> anyhow::Result<Self> {
        for folder in [
            "telemetry",
            "attribution/pull",
            "attribution/push",
            "ad_spend",
        ] {
            std::fs::create_dir_all(root.join(folder))
                .with_context(|| format!("creating {}", root.join(folder).display()))?;
        }
        Ok(Output {
            root: root.to_path_buf(),
            gzip,
            telemetry: BTreeMap::new(),
            written: Vec::new(),
        })
    }

    fn create(&mut self, relative: &str) -> anyhow::Result<Box<dyn Write>> {
        let name = if self.gzip {
            format!("{relative}.gz")
        } else {
            relative.to_string()
        };
        let path = self.root.join(&name);
        let file = BufWriter::with_capacity(
            1 << 16,
            File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        self.written.push(name);
        Ok(if self.gzip {
            Box::new(GzEncoder::new(file, Compression::default()))
        } else {
            Box::new(file)
        })
    }

    fn telemetry(&mut self, date: NaiveDate) -> anyhow::Result<&mut Box<dyn Write>> {
        if !self.telemetry.contains_key(&date) {
            let sink = self.create(&format!("telemetry/{date}.ndjson"))?;
            self.telemetry.insert(date, sink);
        }
        Ok(self.telemetry.get_mut(&date).expect("inserted above"))
    }

    fn csv_writer(&mut self, relative: &str) -> anyhow::Result<csv::Writer<Box<dyn Write>>> {
        Ok(csv::Writer::from_writer(self.create(relative)?))
    }

    fn write_csv<R: Serialize>(
        &mut self,
        relative: &str,
        rows: impl IntoIterator<Item = R>,
    ) -> anyhow::Result<()> {
        let mut writer = self.csv_writer(relative)?;
        for row in rows {
            writer.serialize(row)?;
        }
        writer.flush()?;
        Ok(())
    }

    fn write_ndjson<R: Serialize>(&mut self, relative: &str, rows: &[R]) -> anyhow::Result<()> {
        let mut sink = self.create(relative)?;
        for row in rows {
            serde_json::to_writer(&mut sink, row)?;
            sink.write_all(b"\n")?;
        }
        sink.flush()?;
        Ok(())
    }

    /// Flushes and closes every file; returns their names, sorted.
    fn finish(mut self) -> anyhow::Result<Vec<String>> {
        for (_, mut sink) in std::mem::take(&mut self.telemetry) {
            sink.flush()?;
        }
        self.written.sort();
        Ok(self.written)
    }
}
