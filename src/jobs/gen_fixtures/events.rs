//! Telemetry of one player-day: a day plan dressed as sessions of timestamped events.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};
use serde_json::{Map, Value, json};

use super::studio::{COUNTRIES, DayPlan, GAMES, Player, poisson, stream, uuid};
use crate::wire::{
    AttributionContext, ConsentContext, DeviceContext, NetworkContext, TelemetryEvent,
};

/// What carries over from one active day to the next.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Highest level completed.
    pub level: u32,
    /// Consecutive active days up to the last one.
    pub streak: u32,
    pub last_active_day: Option<u16>,
}

/// The events of a player on one active day, in time order.
pub fn day_events(
    seed: u64,
    player: &Player,
    plan: &DayPlan,
    progress: &mut Progress,
) -> Vec<TelemetryEvent> {
    let mut rng = stream(
        seed,
        &[
            player.key[0],
            player.key[1],
            player.key[2],
            2,
            u64::from(plan.day),
        ],
    );
    let game = &GAMES[player.game];
    progress.streak = match progress.last_active_day {
        Some(previous) if previous + 1 == plan.day => progress.streak + 1,
        _ => 1,
    };
    progress.last_active_day = Some(plan.day);

    let day_start = player
        .install_date()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp()
        + i64::from(plan.day) * 86_400;
    let earliest = if plan.day == 0 {
        player.install_time.timestamp() - day_start + 5
    } else {
        0
    };

    // Session lengths, then start times that keep each session inside its UTC day.
    let length_distribution = LogNormal::new(360f64.ln(), 0.6).expect("valid lognormal");
    let mut sessions: Vec<(i64, i64)> = (0..plan.sessions)
        .map(|_| {
            let length = (length_distribution.sample(&mut rng) * player.engagement.powf(0.3))
                .clamp(30.0, 3_600.0) as i64;
            let latest = (86_400 - length - 60).max(earliest + 1);
            (rng.random_range(earliest..latest), length)
        })
        .collect();
    sessions.sort_unstable();

    let mut purchases_by_session = vec![Vec::new(); sessions.len()];
    for &price in &plan.purchases {
        purchases_by_session[rng.random_range(0..sessions.len())].push(price);
    }
    let mut ads_by_session = vec![Vec::new(); sessions.len()];
    for &revenue in &plan.ads {
        ads_by_session[rng.random_range(0..sessions.len())].push(revenue);
    }

    let mut events = Vec::new();
    let mut total_time = 0i64;
    let last_session = sessions.len() - 1;
    for (index, &(start, length)) in sessions.iter().enumerate() {
        let session_id = uuid(&mut rng);
        let mut steps: Vec<(&'static str, Map<String, Value>)> = Vec::new();
        if index == 0 {
            let launch_source = if plan.day == 0 {
                "install"
            } else {
                ["icon", "icon", "push", "deeplink"][rng.random_range(0..4)]
            };
            steps.push((
                "game_launched",
                props(json!({"launch_source": launch_source, "days_since_install": plan.day})),
            ));
            steps.push((
                "daily_login",
                props(json!({"consecutive_days": progress.streak})),
            ));
            if plan.day == 0 {
                steps.push(("tutorial_start", props(json!({"step_id": "intro"}))));
                if rng.random_bool(0.75) {
                    let seconds = rng.random_range(60..400);
                    steps.push((
                        "tutorial_complete",
                        props(json!({"time_spent_s": seconds, "skipped": false})),
                    ));
                } else {
                    steps.push(("tutorial_skip", props(json!({"reason": "skip_button"}))));
                }
            }
        } else {
            steps.push(("game_foreground", Map::new()));
        }

        for _ in 0..poisson(&mut rng, 1.5 * player.engagement.sqrt()) {
            let level_id = format!("L-{:03}", progress.level + 1);
            let difficulty = ["easy", "normal", "normal", "hard"][rng.random_range(0..4)];
            steps.push((
                "level_start",
                props(json!({"level_id": level_id, "difficulty": difficulty, "mode": "campaign"})),
            ));
            let time_spent = rng.random_range(20..600);
            if rng.random_bool(0.7) {
                progress.level += 1;
                steps.push((
                    "level_complete",
                    props(json!({
                        "level_id": level_id,
                        "attempts": 1 + poisson(&mut rng, 0.6),
                        "time_spent_seconds": time_spent,
                        "stars_earned": rng.random_range(1..=3),
                    })),
                ));
            } else {
                let reason = ["out_of_moves", "timeout", "defeated"][rng.random_range(0..3)];
                steps.push(("level_fail", props(json!({"level_id": level_id, "fail_reason": reason, "time_spent_seconds": time_spent}))));
            }
        }

        if game.has_matches {
            for _ in 0..poisson(&mut rng, 1.0 * player.engagement.sqrt()) {
                let mode = ["ranked", "casual"][rng.random_range(0..2)];
                steps.push(("match_start", props(json!({"mode": mode, "map_id": format!("map-{}", rng.random_range(1..6)), "team_size": 3}))));
                let result = ["win", "loss", "loss", "win", "draw"][rng.random_range(0..5)];
                steps.push(("match_end", props(json!({
                    "result": result,
                    "kills": poisson(&mut rng, 3.0),
                    "duration_seconds": rng.random_range(90..420),
                    "score": rng.random_range(100..5000),
                    "rank_change": if result == "win" { 12 } else if result == "loss" { -9 } else { 0 },
                }))));
                if rng.random_bool(0.02) {
                    steps.push(("player_report", props(json!({"target_id": super::studio::hex_id(&mut rng, 32), "reason": "toxicity"}))));
                }
            }
        }

        for &revenue in &ads_by_session[index] {
            let placement = ["extra_moves", "daily_chest", "double_reward"][rng.random_range(0..3)];
            let network = ["ironSource", "AppLovin", "Unity Ads", "AdMob"][rng.random_range(0..4)];
            steps.push((
                "ad_reward_requested",
                props(json!({"placement": placement, "reward_type": "coins"})),
            ));
            steps.push(("ad_impression", props(json!({"ad_network": network, "format": "rewarded", "placement": placement, "revenue_usd": revenue}))));
            steps.push((
                "ad_reward_granted",
                props(json!({"placement": placement, "reward_type": "coins", "reward_amount": 50})),
            ));
        }
        // About one request in sixteen is abandoned or fails to fill.
        if !ads_by_session[index].is_empty() && rng.random_bool(0.06) {
            steps.push((
                "ad_reward_requested",
                props(json!({"placement": "extra_moves", "reward_type": "coins"})),
            ));
        }

        let offer_shown = rng.random_bool(0.15);
        if offer_shown && purchases_by_session[index].is_empty() {
            steps.push(("offer_viewed", props(json!({"offer_id": "starter_pack", "campaign": "evergreen", "predicted_price": 4.99}))));
        }
        for &price in &purchases_by_session[index] {
            let item_id = format!("gems_{}", (price * 100.0).round() as u64);
            let is_offer = rng.random_bool(0.3);
            if is_offer {
                steps.push(("offer_viewed", props(json!({"offer_id": item_id, "campaign": "personalized", "predicted_price": price}))));
            }
            steps.push((
                "iap_initiated",
                props(json!({"item_id": item_id, "price_usd": price})),
            ));
            steps.push((
                "iap_completed",
                props(json!({
                    "item_id": item_id,
                    "price_usd": price,
                    "revenue_usd": price,
                    "currency": "USD",
                    "transaction_id": uuid(&mut rng),
                })),
            ));
            if is_offer {
                steps.push((
                    "offer_purchased",
                    props(json!({"offer_id": item_id, "revenue_usd": price})),
                ));
            }
        }
        if rng.random_bool(0.05) {
            steps.push((
                "iap_initiated",
                props(json!({"item_id": "gems_499", "price_usd": 4.99})),
            ));
        }

        let crashed = rng.random_bool(0.003);
        if crashed {
            steps.push(("crash", props(json!({"error_code": "SIGSEGV", "stack_trace_hash": super::studio::hex_id(&mut rng, 8)}))));
        } else {
            steps.push((
                "game_background",
                props(json!({"session_duration_seconds": length})),
            ));
        }
        total_time += length;
        if index == last_session && !crashed {
            steps.push((
                "game_closed",
                props(json!({"total_session_time_s": total_time})),
            ));
        }

        let step_ms = length * 1000 / (steps.len() as i64 + 1);
        for (position, (name, properties)) in steps.into_iter().enumerate() {
            let timestamp = (day_start + start) * 1000 + step_ms * (position as i64 + 1);
            events.push(event(
                &mut rng,
                player,
                &session_id,
                name,
                timestamp,
                properties,
            ));
        }
    }
    events
}

fn props(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn event(
    rng: &mut ChaCha8Rng,
    player: &Player,
    session_id: &str,
    name: &str,
    timestamp: i64,
    properties: Map<String, Value>,
) -> TelemetryEvent {
    let country = &COUNTRIES[player.country];
    let game = &GAMES[player.game];
    TelemetryEvent {
        event_id: uuid(rng),
        eternal_player_id: player.eternal_player_id.clone(),
        anonymous_id: player.anonymous_id.clone(),
        event_name: name.to_string(),
        event_timestamp: timestamp,
        game_title: game.title.to_string(),
        platform: player.platform.as_str().to_string(),
        country_code: country.code.to_string(),
        session_id: session_id.to_string(),
        app_version: game.app_version.to_string(),
        is_minor: player.is_minor,
        consent_analytics: player.consent_analytics,
        consent_personalization: player.consent_personalization,
        device: DeviceContext {
            os_version: player.os_version.to_string(),
            device_model: player.device_model.to_string(),
            locale: country.locale.to_string(),
            timezone: country.timezone.to_string(),
        },
        network: NetworkContext {
            carrier: player.carrier.to_string(),
            connection_type: player.connection_type.to_string(),
        },
        attribution: AttributionContext {
            campaign_source: player.source.appsflyer_id().to_string(),
            install_referrer: if player.source.is_paid() {
                "utm_source=ua".into()
            } else {
                "organic".into()
            },
        },
        consent: ConsentContext {
            analytics_consent: player.consent_analytics,
            personalization_consent: player.consent_personalization,
            consent_timestamp: player.install_time.timestamp_millis(),
        },
        properties,
    }
}
