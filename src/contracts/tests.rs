//! Each rule kind fails and passes; lint and compat catch what they promise.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

/// A level_complete event that satisfies every rule.
pub(crate) fn good_event() -> Value {
    json!({
        "event_id": "8f14e45f-ceea-467f-a1d2-8b5a7a1c6e3d",
        "eternal_player_id": "a".repeat(64),
        "anonymous_id": "b".repeat(32),
        "event_name": "level_complete",
        "event_timestamp": 1_767_225_600_000i64,
        "game_title": "FantasyQuest",
        "platform": "android",
        "country_code": "US",
        "session_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "app_version": "2.1.3",
        "is_minor": false,
        "consent_analytics": true,
        "consent_personalization": true,
        "device": {"os_version": "14", "device_model": "Pixel 8", "locale": "en_US", "timezone": "America/New_York"},
        "network": {"carrier": "Verizon", "connection_type": "wifi"},
        "attribution": {"campaign_source": "organic", "install_referrer": "organic"},
        "consent": {"analytics_consent": true, "personalization_consent": true, "consent_timestamp": 1_767_225_000_000i64},
        "level_id": "L-012",
        "attempts": 2,
        "time_spent_seconds": 95,
        "stars_earned": 3
    })
}

fn with(mut event: Value, path: &str, value: Value) -> Value {
    let mut target = &mut event;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if value.is_null() {
                target.as_object_mut().unwrap().remove(part);
            } else {
                target[part] = value.clone();
            }
        } else {
            target = &mut target[part];
        }
    }
    event
}

fn rules_broken(set: &ContractSet, event: &Value) -> Vec<(String, Rule)> {
    rules_broken_by(set, &Json::from(event))
}

fn rules_broken_by(set: &ContractSet, event: &Json) -> Vec<(String, Rule)> {
    set.check_event(event, Some(1_767_225_700_000))
        .violations
        .into_iter()
        .map(|v| (v.field, v.rule))
        .collect()
}

/// [`rules_broken`] of an event's JSON text, read as the lake reads it: a key written twice
/// stays twice (a `serde_json::Value` keeps one of them).
fn judged_text(set: &ContractSet, text: &str) -> Vec<(String, Rule)> {
    rules_broken_by(set, &serde_json::from_str(text).unwrap())
}

#[test]
fn a_good_event_passes_and_names_its_contract() {
    let set = ContractSet::repository();
    let verdict = set.check_event(&Json::from(&good_event()), Some(1_767_225_700_000));
    assert!(verdict.is_valid(), "{:?}", verdict.violations);
    assert_eq!(verdict.contract.unwrap().id, "level_complete_v1");
}

#[test]
fn each_rule_kind_fails_on_its_own_case() {
    let set = ContractSet::repository();
    let cases = [
        (
            with(good_event(), "level_id", Value::Null),
            "level_id",
            Rule::Required,
        ),
        (
            with(good_event(), "device.locale", Value::Null),
            "device.locale",
            Rule::Required,
        ),
        (
            with(good_event(), "attempts", json!("two")),
            "attempts",
            Rule::Type,
        ),
        (
            with(good_event(), "attempts", json!(2.5)),
            "attempts",
            Rule::Type,
        ),
        (
            with(good_event(), "event_id", json!("not-a-uuid")),
            "event_id",
            Rule::Type,
        ),
        (
            with(good_event(), "is_minor", json!("false")),
            "is_minor",
            Rule::Type,
        ),
        (
            with(good_event(), "level_id", json!("level twelve")),
            "level_id",
            Rule::Pattern,
        ),
        (
            with(good_event(), "country_code", json!("usa")),
            "country_code",
            Rule::Pattern,
        ),
        (
            with(good_event(), "stars_earned", json!(5)),
            "stars_earned",
            Rule::Enum,
        ),
        (
            with(good_event(), "platform", json!("windows-phone")),
            "platform",
            Rule::Enum,
        ),
        (
            with(good_event(), "attempts", json!(0)),
            "attempts",
            Rule::Minimum,
        ),
        (
            with(good_event(), "time_spent_seconds", json!(9000)),
            "time_spent_seconds",
            Rule::Maximum,
        ),
        (
            with(good_event(), "event_name", json!("level_teleported")),
            "event_name",
            Rule::UnknownEvent,
        ),
        (
            with(good_event(), "event_timestamp", json!(1_767_312_000_000i64)),
            "event_timestamp",
            Rule::FutureTimestamp,
        ),
    ];
    for (event, field, rule) in cases {
        assert_eq!(
            rules_broken(&set, &event),
            vec![(field.to_string(), rule)],
            "case {field} {rule}"
        );
    }
}

#[test]
fn negative_revenue_is_below_the_minimum() {
    let set = ContractSet::repository();
    let purchase = with(
        with(good_event(), "event_name", json!("iap_completed")),
        "level_id",
        Value::Null,
    );
    let purchase = ["attempts", "time_spent_seconds", "stars_earned"]
        .into_iter()
        .fold(purchase, |event, field| with(event, field, Value::Null));
    let purchase = with(
        with(
            with(
                with(purchase, "item_id", json!("gems_499")),
                "price_usd",
                json!(4.99),
            ),
            "currency",
            json!("USD"),
        ),
        "transaction_id",
        json!("t-1"),
    );
    assert!(rules_broken(&set, &with(purchase.clone(), "revenue_usd", json!(4.99))).is_empty());
    assert_eq!(
        rules_broken(&set, &with(purchase, "revenue_usd", json!(-4.99))),
        vec![("revenue_usd".to_string(), Rule::Minimum)]
    );
}

#[test]
fn not_an_object_is_not_json() {
    let set = ContractSet::repository();
    assert_eq!(
        rules_broken(&set, &json!([1, 2])),
        vec![(String::new(), Rule::NotJson)]
    );
}

#[test]
fn a_tombstoned_contract_rejects_its_events_and_a_game_override_wins() {
    let documents = vec![
        Document::new(
            "all-games/level_complete.yaml".into(),
            contract("level_complete", "\"*\"", "active", ""),
        ),
        Document::new(
            "TinyTitans/level_complete.yaml".into(),
            contract("level_complete", "TinyTitans", "tombstone", ""),
        ),
    ];
    let set = ContractSet::from_documents(&documents).unwrap();
    let event = json!({"event_name": "level_complete", "game_title": "TinyTitans"});
    assert_eq!(
        rules_broken(&set, &event),
        vec![("event_name".to_string(), Rule::Tombstoned)]
    );
    let event = json!({"event_name": "level_complete", "game_title": "FantasyQuest"});
    assert!(rules_broken(&set, &event).is_empty());
}

#[test]
fn every_fixture_event_satisfies_the_contracts() {
    let set = ContractSet::repository();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/studio/telemetry");
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures).unwrap() {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(entry.unwrap().path()).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let event: Json = serde_json::from_str(line).unwrap();
            let verdict = set.check_event(&event, event.get("event_timestamp").as_i64());
            assert!(verdict.is_valid(), "{line}\n{:?}", verdict.violations);
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn csv_rows_are_read_under_their_column_names_and_typed() {
    let set = ContractSet::repository();
    let mut row: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "AppsFlyer ID": "1767370837000-9730542",
        "Customer User ID": "d".repeat(64),
        "Install Time": "2026-01-02 16:20:37",
        "Media Source": "Facebook Ads",
        "Cost Value": "2.88",
        "Cost Currency": "USD",
        "Country Code": "US",
        "Platform": "ios",
        "Region": ""
    }))
    .unwrap();
    let check = |row: &serde_json::Map<String, Value>| {
        let row = Value::Object(row.clone());
        let Json::Object(row) = Json::from(&row) else {
            unreachable!("the row is an object")
        };
        set.check_csv_record("appsflyer_install", &row)
    };
    let verdict = check(&row);
    assert!(verdict.is_valid(), "{:?}", verdict.violations);

    row.insert("Cost Value".into(), json!("two dollars"));
    row.insert("Country Code".into(), json!(""));
    let broken: Vec<_> = check(&row)
        .violations
        .into_iter()
        .map(|v| (v.field, v.rule))
        .collect();
    assert_eq!(
        broken,
        [
            ("af_cost_value".to_string(), Rule::Type),
            ("country_code".to_string(), Rule::Required)
        ]
    );
}

#[test]
fn a_csv_cell_with_escapes_in_its_text_is_typed_like_any_other() {
    let set = ContractSet::repository();
    let contract = set.source_contract("appsflyer_install").unwrap();
    let field = |name: &str| contract.fields.iter().find(|f| f.name == name).unwrap();
    // Escaped text cannot be borrowed from the row: the parser hands over its own copy.
    let row =
        r#"{"Cost Value": "\u0020 2.88\t", "Media Source": "Facebook \"Ads\" ", "Ad": "\u0020"}"#;
    let Ok(Json::Object(row)) = serde_json::from_str::<Json>(row) else {
        unreachable!("the row is an object")
    };
    assert_eq!(
        field("af_cost_value").csv_value(&row),
        Some(Json::from(2.88))
    );
    assert_eq!(
        field("media_source").csv_value(&row),
        Some(Json::from("Facebook \"Ads\""))
    );
    assert_eq!(field("af_ad").csv_value(&row), None, "blank is missing");
}

#[test]
fn a_key_written_twice_is_judged_at_its_first_value() {
    let set = ContractSet::repository();
    let event = good_event().to_string();
    let first_bad = format!(r#"{{"attempts":"two",{}"#, &event[1..]);
    let first_good = format!(
        r#"{{"attempts":2,{}"#,
        &with(good_event(), "attempts", json!("two")).to_string()[1..]
    );
    assert_eq!(
        judged_text(&set, &first_bad),
        [("attempts".to_string(), Rule::Type)]
    );
    assert!(judged_text(&set, &first_good).is_empty());
}

/// `event` as JSON text with its keys in the order of the rules that read them (the global
/// fields, then the event's own, members likewise), the order an SDK writes them in; keys no
/// rule names follow in their own order.
fn in_contract_order(set: &ContractSet, event: &Value) -> String {
    fn ordered(rules: &[&FieldRule], value: &Value) -> String {
        let Value::Object(object) = value else {
            return value.to_string();
        };
        let named = rules.iter().map(|rule| rule.name.as_str());
        let mut keys: Vec<&str> = named.filter(|key| object.contains_key(*key)).collect();
        let rest: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|key| !keys.contains(key))
            .collect();
        keys.extend(rest);
        let entries = keys.iter().map(|key| {
            let members = rules
                .iter()
                .find(|rule| rule.name == *key)
                .map(|rule| rule.members.iter().collect::<Vec<_>>())
                .unwrap_or_default();
            format!("{}:{}", Value::from(*key), ordered(&members, &object[*key]))
        });
        format!("{{{}}}", entries.collect::<Vec<_>>().join(","))
    }
    let contract = set.event_contract(
        event["game_title"].as_str().unwrap_or_default(),
        event["event_name"].as_str().unwrap_or_default(),
    );
    let rules: Vec<&FieldRule> = set
        .global()
        .into_iter()
        .chain(contract)
        .flat_map(|contract| &contract.fields)
        .collect();
    ordered(&rules, event)
}

#[test]
fn keys_in_the_contracts_order_are_judged_as_in_any_other() {
    let set = ContractSet::repository();
    let text = in_contract_order(&set, &good_event());
    assert!(
        text.starts_with(r#"{"event_id":"8f14e45f"#) && text.ends_with(r#""stars_earned":3}"#),
        "{text}"
    );
    let cases = [
        good_event(),
        with(good_event(), "level_id", Value::Null),
        with(good_event(), "country_code", json!("usa")),
        with(good_event(), "platform", json!("web")),
        with(good_event(), "device.locale", json!(7)),
        with(good_event(), "consent.consent_timestamp", json!(-1)),
        with(good_event(), "attempts", json!("two")),
    ];
    for event in cases {
        let alphabetical = event.to_string();
        assert_eq!(
            judged_text(&set, &in_contract_order(&set, &event)),
            judged_text(&set, &alphabetical),
            "{alphabetical}"
        );
    }
}

#[test]
fn a_key_written_twice_in_the_contracts_order_is_judged_at_its_first_value() {
    let set = ContractSet::repository();
    let text = in_contract_order(&set, &good_event());
    // Each second copy follows its first, as a client that appends a key it already wrote.
    let twice = |key: &str, first: &str, second: &str| {
        let written = format!("{key}:{first}");
        assert!(text.contains(&written), "{written} in {text}");
        text.replacen(&written, &format!("{written},{key}:{second}"), 1)
    };
    let country = r#""country_code""#;
    let locale = r#""locale""#;
    assert!(judged_text(&set, &twice(country, r#""US""#, r#""usa""#)).is_empty());
    let first_bad = twice(country, r#""US""#, r#""US""#).replacen(r#""US""#, r#""usa""#, 1);
    assert_eq!(
        judged_text(&set, &first_bad),
        [("country_code".to_string(), Rule::Pattern)]
    );
    assert!(judged_text(&set, &twice(locale, r#""en_US""#, "7")).is_empty());
    let first_bad = twice(locale, r#""en_US""#, r#""en_US""#).replacen(r#""en_US""#, "7", 1);
    assert_eq!(
        judged_text(&set, &first_bad),
        [("device.locale".to_string(), Rule::Type)]
    );
}

#[test]
fn an_event_field_named_like_a_global_one_is_read_at_its_first_value() {
    let global = "contract_id: global_v1\nkind: global\nversion: 1.0.0\nstatus: active\nfields:\n  - { name: event_name, type: string, required: true }\n  - { name: game_title, type: string, required: true }\n  - { name: platform, type: string, required: true }\n";
    let documents = vec![
        Document::new("global.yaml".into(), global.into()),
        Document::new(
            "all-games/level_start.yaml".into(),
            contract(
                "level_start",
                "\"*\"",
                "active",
                "  - { name: platform, type: string, pattern: \"^[a-z]+$\" }",
            ),
        ),
    ];
    let set = ContractSet::from_documents(&documents).unwrap();
    let event = r#"{"event_name":"level_start","game_title":"G","platform":"ios","platform":"X"}"#;
    assert!(judged_text(&set, event).is_empty());
    let event = r#"{"event_name":"level_start","game_title":"G","platform":"X","platform":"ios"}"#;
    assert_eq!(
        judged_text(&set, event),
        [("platform".to_string(), Rule::Pattern)]
    );
}

#[test]
fn pii_fields_are_listed_from_the_contract() {
    let set = ContractSet::repository();
    let mut pii = set.global().unwrap().pii_fields();
    pii.sort();
    assert_eq!(pii, ["anonymous_id", "eternal_player_id"]);
    assert_eq!(
        set.source_contract("appsflyer_install")
            .unwrap()
            .pii_fields(),
        ["customer_user_id"]
    );
}

fn contract(event: &str, game: &str, status: &str, fields: &str) -> String {
    format!(
        "contract_id: {event}_{}\nevent_name: {event}\ngame_title: {game}\nversion: 1.0.0\nstatus: {status}\nfields:\n{fields}\n",
        game.trim_matches('"').replace('*', "all")
    )
}

fn lint_rules(documents: &[Document]) -> Vec<(usize, &'static str)> {
    lint::lint(documents)
        .into_iter()
        .map(|p| (p.line, p.rule))
        .collect()
}

#[test]
fn the_repository_contracts_lint_clean() {
    let documents =
        read_documents(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR)).unwrap();
    assert!(documents.len() >= 26, "{}", documents.len());
    let problems = lint::lint(&documents);
    assert!(problems.is_empty(), "{}", lint::render(&problems));
}

#[test]
fn lint_reports_each_problem_with_its_line() {
    let path = PathBuf::from("all-games/level_complete.yaml");
    let broken = "contract_id: level_complete_v1\nevent_name: level_complete\ngame_title: \"*\"\nversion: 1.0\ngolden: true\nfields:\n  - name: level_id\n    type: text\n  - name: attempts\n    type: int32\n    pattern: \"[\"\n  - name: stars\n    type: int32\n    enum: [\"one\", 2]\n  - name: wait\n    type: int32\n    minimum: 10\n    maximum: 1\n";
    assert_eq!(
        lint_rules(&[Document::new(path, broken.into())]),
        [
            (4, "version"),
            (5, "golden_sla"),
            (7, "unknown_type"),
            (9, "pattern_type"),
            (9, "bad_pattern"),
            (12, "enum_type"),
            (15, "empty_range")
        ]
    );
}

#[test]
fn lint_catches_parse_errors_duplicates_placement_and_short_deprecations() {
    let parse = Document::new("all-games/a.yaml".into(), "contract_id: [unclosed\n".into());
    assert_eq!(lint_rules(&[parse]), [(1, "parse")]);

    let one = Document::new(
        "all-games/level_start.yaml".into(),
        contract("level_start", "\"*\"", "active", ""),
    );
    let mut twin = Document::new(
        "FantasyQuest/level_start.yaml".into(),
        contract("level_start", "FantasyQuest", "active", ""),
    );
    twin.text = twin
        .text
        .replace("level_start_FantasyQuest", "level_start_all");
    twin.parsed = serde_yaml_ng::from_str(&twin.text);
    assert_eq!(lint_rules(&[one, twin]), [(1, "duplicate_id")]);

    let misplaced = Document::new(
        "TinyTitans/level_start.yaml".into(),
        contract("level_start", "FantasyQuest", "active", ""),
    );
    assert_eq!(lint_rules(&[misplaced]), [(1, "location")]);

    let top_level = "  - { name: level_id, type: string }\n  - { name: level_id, type: int32 }\n";
    let twice = Document::new(
        "all-games/level_start.yaml".into(),
        contract("level_start", "\"*\"", "active", top_level),
    );
    assert_eq!(lint_rules(&[twice]), [(7, "duplicate_field")]);
    let members = "  - name: device\n    type: object\n    fields:\n      - { name: locale, type: string }\n      - { name: locale, type: int32 }\n";
    let twice = Document::new(
        "all-games/level_start.yaml".into(),
        contract("level_start", "\"*\"", "active", members),
    );
    assert_eq!(lint_rules(&[twice]), [(10, "duplicate_field")]);

    let deprecated = |date: &str| {
        let text = format!(
            "{}deprecation_date: {date}\nchange_history:\n  - version: 1.0.0\n    date: 2026-01-01\n    change: deprecated\n",
            contract("level_start", "\"*\"", "deprecated", "")
        );
        Document::new("all-games/level_start.yaml".into(), text)
    };
    assert_eq!(
        lint_rules(&[deprecated("2026-02-01")]),
        [(8, "deprecation")]
    );
    assert!(lint_rules(&[deprecated("2026-04-01")]).is_empty());
}

fn versioned(version: &str, fields: &str) -> Vec<Document> {
    let text = contract("level_complete", "\"*\"", "active", fields)
        .replace("version: 1.0.0", &format!("version: {version}"));
    vec![Document::new("all-games/level_complete.yaml".into(), text)]
}

const BASE_FIELDS: &str = "  - { name: level_id, type: string, required: true }\n  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n";

fn breaking(version: &str, fields: &str) -> Vec<String> {
    compat::compare(
        &versioned("1.2.0", BASE_FIELDS),
        &versioned(version, fields),
    )
    .into_iter()
    .filter_map(|change| {
        change
            .field
            .map(|field| format!("{field}: {}", change.change))
    })
    .collect()
}

#[test]
fn compat_flags_each_kind_of_breaking_change() {
    let cases = [
        (
            "  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n",
            "level_id: removed",
        ),
        (
            "  - { name: level_id, type: string, required: true }\n  - { name: attempts, type: int32, required: true, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n",
            "attempts: became required",
        ),
        (
            "  - { name: level_id, type: int64, required: true }\n  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n",
            "level_id: type string -> int64 does not accept all old values",
        ),
        (
            "  - { name: level_id, type: string, required: true }\n  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2] }\n",
            "stars: enum narrowed: [3] removed",
        ),
        (
            "  - { name: level_id, type: string, required: true }\n  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 50 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n",
            "attempts: maximum tightened Some(100.0) -> Some(50.0)",
        ),
        (
            "  - { name: level_id, type: string, required: true, pattern: \"^L-\" }\n  - { name: attempts, type: int32, required: false, minimum: 1, maximum: 100 }\n  - { name: stars, type: int32, required: true, enum: [1, 2, 3] }\n",
            "level_id: pattern changed None -> Some(\"^L-\")",
        ),
        (
            &format!("{BASE_FIELDS}  - {{ name: mode, type: string, required: true }}\n"),
            "mode: added as required; old rows lack it",
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(breaking("1.3.0", fields), [expected]);
        assert!(
            breaking("2.0.0", fields).is_empty(),
            "a major version allows: {expected}"
        );
    }
}

#[test]
fn compat_accepts_widening_and_new_optional_fields() {
    let widened = "  - { name: level_id, type: string, required: false }\n  - { name: attempts, type: int64, required: false, minimum: 0, maximum: 1000 }\n  - { name: stars, type: int32, required: true, enum: [0, 1, 2, 3] }\n  - { name: mode, type: string, required: false }\n";
    assert!(
        breaking("1.3.0", widened).is_empty(),
        "{:?}",
        breaking("1.3.0", widened)
    );
}

#[test]
fn compat_flags_a_removed_contract() {
    let changes = compat::compare(&versioned("1.0.0", BASE_FIELDS), &[]);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].change.contains("contract removed"));
}
