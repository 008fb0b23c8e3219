//! Telemetry: judged against the contracts, consent applied, duplicates dropped, typed.

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Serialize, Serializer};

use super::bronze::{Judged, records};
use crate::contracts::judge::judge_event;
use crate::contracts::{ContractSet, Json, JsonObject, Verdict};
use crate::tables::bronze;

/// The events of one Bronze day that go on to Silver, before enrichment.
pub struct EventFacts {
    /// Columns of `silver.player_events` except the acquisition ones.
    pub rows: DataFrame,
    pub judged: Judged,
    pub without_consent: u64,
    pub duplicates: u64,
}

/// An event's own properties: its JSON object without the global fields. Keys are written in
/// order at every depth, each once with its first value (the one the contracts judged), so the
/// text does not depend on the order the event's keys arrived in.
struct Properties<'v, 'j> {
    object: &'v JsonObject<'j>,
    global_fields: &'v [&'v str],
}

impl Properties<'_, '_> {
    /// Compact JSON, written over `buffer`.
    fn write_json<'b>(&self, buffer: &'b mut Vec<u8>) -> &'b str {
        buffer.clear();
        serde_json::to_writer(&mut *buffer, self).expect("JSON with text keys always serialises");
        std::str::from_utf8(buffer).expect("serde_json writes UTF-8")
    }
}

impl Serialize for Properties<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_ordered(
            self.object
                .iter()
                .filter(|(key, _)| !self.global_fields.contains(key)),
            serializer,
        )
    }
}

/// A JSON value written with the keys of its objects in order.
struct Ordered<'v, 'j>(&'v Json<'j>);

impl Serialize for Ordered<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Json::Object(object) => serialize_ordered(object.iter(), serializer),
            Json::Array(values) => serializer.collect_seq(values.iter().map(Ordered)),
            scalar => scalar.serialize(serializer),
        }
    }
}

fn serialize_ordered<'v, 'j: 'v, S: Serializer>(
    entries: impl Iterator<Item = (&'v str, &'v Json<'j>)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut entries: Vec<_> = entries.collect();
    // Stable, so a key written twice keeps its first value (the one the contracts judged).
    entries.sort_by_key(|(key, _)| *key);
    entries.dedup_by(|(later, _), (earlier, _)| later == earlier);
    serializer.collect_map(
        entries
            .into_iter()
            .map(|(key, value)| (key, Ordered(value))),
    )
}

/// What the Bronze columns do not carry, read from each event's JSON: the columns of a run of
/// rows, built where the rows are judged. Each text is written straight into its column, so a
/// slice does not allocate a `String` per row to copy into a column afterwards.
struct FromJson {
    app_version: StringChunkedBuilder,
    is_minor: Vec<bool>,
    consent_analytics: Vec<bool>,
    consent_personalization: Vec<bool>,
    properties_json: StringChunkedBuilder,
    /// Where an event's properties are written before they are copied into their column.
    scratch: Vec<u8>,
}

impl FromJson {
    fn with_capacity(rows: usize) -> Self {
        FromJson {
            app_version: StringChunkedBuilder::new("app_version".into(), rows),
            is_minor: Vec::with_capacity(rows),
            consent_analytics: Vec::with_capacity(rows),
            consent_personalization: Vec::with_capacity(rows),
            properties_json: StringChunkedBuilder::new("properties_json".into(), rows),
            scratch: Vec::new(),
        }
    }

    /// Adds a row from its event (`None`: not a JSON object, so no properties and no flags).
    fn push(&mut self, event: Option<&JsonObject>, global_fields: &[&str]) {
        let empty = JsonObject::default();
        let event = event.unwrap_or(&empty);
        let flag = |key: &str| event.get(key).and_then(Json::as_bool).unwrap_or(false);
        self.app_version
            .append_option(event.get("app_version").and_then(Json::as_str));
        self.is_minor.push(flag("is_minor"));
        self.consent_analytics.push(flag("consent_analytics"));
        self.consent_personalization
            .push(flag("consent_personalization"));
        let properties = Properties {
            object: event,
            global_fields,
        };
        self.properties_json
            .append_value(properties.write_json(&mut self.scratch));
    }

    /// The run's columns, as a frame of their own.
    fn finish(self) -> PolarsResult<DataFrame> {
        DataFrame::new(
            self.is_minor.len(),
            vec![
                self.app_version.finish().into_column(),
                Column::new("is_minor".into(), self.is_minor),
                Column::new("consent_analytics".into(), self.consent_analytics),
                Column::new(
                    "consent_personalization".into(),
                    self.consent_personalization,
                ),
                self.properties_json.finish().into_column(),
            ],
        )
    }

    /// The columns of `runs`, in order, in one frame (with no rows when there are no runs).
    fn concat(runs: Vec<FromJson>) -> PolarsResult<DataFrame> {
        let mut columns = FromJson::with_capacity(0).finish()?;
        for run in runs {
            columns.vstack_mut_owned(run.finish()?)?;
        }
        Ok(columns)
    }
}

/// Rows a judging task takes at a time: enough that a task's columns are few chunks, few
/// enough that both cores stay busy to the end of a slice.
const ROWS_PER_TASK: usize = 16_384;

/// Judges every event of a Bronze frame; the ones that pass, have analytics consent and were
/// not seen before in the frame become Silver facts. A re-sent event (same player and event
/// id) keeps its first arrival.
pub fn refine(mut frame: DataFrame, contracts: &ContractSet) -> PolarsResult<EventFacts> {
    let global_fields = contracts.global_field_names();
    // Parsing and judging the JSON is most of the work, and each row stands alone: every core
    // takes a share, and the results come back in row order.
    let mut judged = Judged::default();
    let from_json = {
        let records = records(&frame)?;
        let runs: Vec<(Vec<Verdict>, FromJson)> = records
            .par_chunks(ROWS_PER_TASK)
            .map(|run| {
                let mut verdicts = Vec::with_capacity(run.len());
                let mut fields = FromJson::with_capacity(run.len());
                for record in run {
                    let (object, verdict) = judge_event(contracts, record);
                    fields.push(object.as_ref(), &global_fields);
                    verdicts.push(verdict);
                }
                (verdicts, fields)
            })
            .collect();
        let (verdicts, fields): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
        for (record, verdict) in records.iter().zip(verdicts.into_iter().flatten()) {
            judged.push(&bronze::GAME_EVENTS, record, verdict);
        }
        FromJson::concat(fields)?
    };
    // Judged and read: the raw JSON (a day's bulk) is not needed any further.
    let _ = frame.drop_in_place("raw_json")?;
    frame.hstack_mut(from_json.columns())?;

    let passed = frame.filter(&judged.mask())?;
    let consented = passed.filter(passed.column("consent_analytics")?.bool()?)?;
    let without_consent = (passed.height() - consented.height()) as u64;
    let (unique, duplicates) = first_arrivals(consented)?;
    let revenue = |column: &str| col(column).fill_null(lit(0.0));
    let rows = unique
        .lazy()
        .select([
            col("event_id"),
            col("player_id"),
            col("game_id"),
            col("event_type"),
            col("event_timestamp"),
            col("event_timestamp").dt().date().alias("event_date"),
            col("session_id"),
            col("session_duration").alias("session_duration_s"),
            col("level"),
            revenue("iap_revenue").alias("iap_revenue_usd"),
            revenue("ad_revenue").alias("ad_revenue_usd"),
            (revenue("iap_revenue") + revenue("ad_revenue")).alias("revenue_usd"),
            col("event_type").eq(lit("iap_completed")).alias("is_iap"),
            col("event_type").eq(lit("ad_impression")).alias("is_ad"),
            col("device_type").alias("platform"),
            col("country").str().to_uppercase().alias("country_code"),
            col("app_version"),
            col("is_minor"),
            col("consent_personalization"),
            col("properties_json"),
            col("ingest_ts"),
        ])
        .collect()?;
    Ok(EventFacts {
        rows,
        judged,
        without_consent,
        duplicates,
    })
}

/// What identifies an event: a re-sent one has the same.
const EVENT_KEY: [&str; 3] = ["game_id", "player_id", "event_id"];

/// The first arrival of each event of `events` (by [`EVENT_KEY`]), and how many later copies
/// were dropped. A re-sent event keeps the copy received first: by ingest time, then source,
/// then offset in the source.
///
/// Re-sends are rare, so only the rows of re-sent events are put in arrival order. Sorting
/// every row by arrival compared their sources (a file path or topic name that thousands of
/// rows share) for nearly every pair, since rows of one run share their ingest time: on the
/// 10M-event bench that step took 9.6 s over its 20 slices, against 2.3 s now.
fn first_arrivals(events: DataFrame) -> PolarsResult<(DataFrame, u64)> {
    let resent = events.select(EVENT_KEY)?.is_duplicated()?;
    if !resent.any() {
        return Ok((events, 0));
    }
    let sent_once = events.filter(&!&resent)?;
    let copies = events.filter(&resent)?;
    let copied = copies.height();
    let firsts = copies
        .lazy()
        .sort(
            ["ingest_ts", "source", "source_offset"],
            SortMultipleOptions::default(),
        )
        .unique_stable(
            Some(by_name(EVENT_KEY, true, false)),
            UniqueKeepStrategy::First,
        )
        .collect()?;
    let dropped = (copied - firsts.height()) as u64;
    Ok((sent_once.vstack(&firsts)?, dropped))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// One event's [`FromJson`] columns, read back.
    struct Fields {
        app_version: Option<String>,
        is_minor: bool,
        consent_analytics: bool,
        consent_personalization: bool,
        properties_json: String,
    }

    fn fields_of(event: Option<&JsonObject>, global_fields: &[&str]) -> Fields {
        let mut run = FromJson::with_capacity(1);
        run.push(event, global_fields);
        let columns = FromJson::concat(vec![run]).expect("one run of columns");
        let text = |name: &str| {
            crate::lake::string_column(&columns, name).expect("a text column")[0].clone()
        };
        let flag = |name: &str| {
            columns
                .column(name)
                .and_then(|column| column.bool().cloned())
                .expect("a flag column")
                .get(0)
                .expect("flags are never null")
        };
        Fields {
            app_version: text("app_version"),
            is_minor: flag("is_minor"),
            consent_analytics: flag("consent_analytics"),
            consent_personalization: flag("consent_personalization"),
            properties_json: text("properties_json").expect("every row has properties"),
        }
    }

    fn parsed(text: &str) -> JsonObject<'_> {
        let Ok(Json::Object(object)) = serde_json::from_str(text) else {
            unreachable!("the event is an object")
        };
        object
    }

    #[test]
    fn runs_of_rows_are_joined_in_order() {
        let texts = [
            r#"{"app_version":"1.0","is_minor":true,"level":1}"#,
            r#"{"app_version":"1.1","consent_analytics":true,"level":2}"#,
            r#"{"level":3}"#,
        ];
        let events: Vec<JsonObject> = texts.iter().map(|text| parsed(text)).collect();
        let run = |rows: &[JsonObject]| {
            let mut run = FromJson::with_capacity(rows.len());
            for row in rows {
                run.push(Some(row), &["app_version", "is_minor", "consent_analytics"]);
            }
            run
        };
        let frame =
            FromJson::concat(vec![run(&events[..2]), run(&events[2..])]).expect("runs of columns");
        assert_eq!(FromJson::concat(Vec::new()).expect("no runs").height(), 0);
        let text = |name: &str| crate::lake::string_column(&frame, name).expect("a text column");
        assert_eq!(
            text("app_version"),
            [Some("1.0".to_owned()), Some("1.1".to_owned()), None]
        );
        assert_eq!(
            text("properties_json"),
            [r#"{"level":1}"#, r#"{"level":2}"#, r#"{"level":3}"#].map(|p| Some(p.to_owned()))
        );
        let flags = |name: &str| -> Vec<Option<bool>> {
            frame
                .column(name)
                .expect("a flag column")
                .bool()
                .expect("flags")
                .iter()
                .collect()
        };
        assert_eq!(flags("is_minor"), [Some(true), Some(false), Some(false)]);
        assert_eq!(
            flags("consent_analytics"),
            [Some(false), Some(true), Some(false)]
        );
    }

    #[test]
    fn the_properties_are_the_event_without_its_global_fields() {
        let global_fields = ["event_id", "device", "is_minor", "consent_analytics"];
        let event = json!({
            "event_id": "e-1",
            "device": {"os_version": "17.5"},
            "is_minor": true,
            "consent_analytics": true,
            "zeta": [1, 2.5, null],
            "level": 7,
            "note": "quote \" and ü",
            "offer": {"b": 1, "a": {"nested": false}},
        });
        let text = event.to_string();
        let object = parsed(&text);
        let fields = fields_of(Some(&object), &global_fields);

        // The text a trimmed copy of serde_json's sorted map would give, byte for byte.
        let Value::Object(mut trimmed) = event else {
            unreachable!("the event is an object")
        };
        trimmed.retain(|key, _| !global_fields.contains(&key.as_str()));
        assert_eq!(fields.properties_json, Value::Object(trimmed).to_string());
        assert_eq!(
            fields.properties_json,
            r#"{"level":7,"note":"quote \" and ü","offer":{"a":{"nested":false},"b":1},"zeta":[1,2.5,null]}"#
        );
        assert!(fields.is_minor && fields.consent_analytics);
        assert!(!fields.consent_personalization, "a missing flag is false");
        assert_eq!(fields.app_version, None);
    }

    /// One received copy of an event: who and which event, when and where it arrived, and a
    /// label telling the copies apart.
    type Arrival<'a> = (&'a str, &'a str, i64, &'a str, i64, &'a str);

    /// A frame of the columns [`first_arrivals`] reads, plus the copies' labels.
    fn arrivals<'a>(rows: &[Arrival<'a>]) -> DataFrame {
        let text = |f: fn(&Arrival<'a>) -> &'a str| rows.iter().map(f).collect::<Vec<_>>();
        df!(
            "game_id" => vec!["FantasyQuest"; rows.len()],
            "player_id" => text(|r| r.0),
            "event_id" => text(|r| r.1),
            "ingest_ts" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "source" => text(|r| r.3),
            "source_offset" => rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            "copy" => text(|r| r.5),
        )
        .expect("a frame of equal columns")
    }

    fn copies(frame: &DataFrame) -> Vec<String> {
        let mut copies: Vec<String> = crate::lake::string_column(frame, "copy")
            .expect("a copy column")
            .into_iter()
            .flatten()
            .collect();
        copies.sort();
        copies
    }

    #[test]
    fn a_resent_event_keeps_the_copy_received_first() {
        let events = arrivals(&[
            ("p1", "e1", 20, "kafka:game-events", 5, "e1 later run"),
            ("p1", "e2", 10, "kafka:game-events", 7, "e2"),
            (
                "p1",
                "e1",
                10,
                "kafka:game-events",
                9,
                "e1 same run, later offset",
            ),
            ("p2", "e1", 10, "kafka:game-events", 1, "p2 e1"),
            (
                "p1",
                "e1",
                10,
                "file:b.ndjson",
                3,
                "e1 same run, later source",
            ),
            ("p1", "e1", 10, "file:a.ndjson", 40, "e1 first"),
            ("p2", "e3", 30, "file:a.ndjson", 2, "p2 e3 first"),
            ("p2", "e3", 30, "file:a.ndjson", 8, "p2 e3 again"),
        ]);
        let (firsts, dropped) = first_arrivals(events).expect("first arrivals");
        assert_eq!(dropped, 4);
        assert_eq!(
            copies(&firsts),
            ["e1 first", "e2", "p2 e1", "p2 e3 first"],
            "by ingest time, then source, then offset; the same event id of another player is \
             another event"
        );
    }

    #[test]
    fn events_sent_once_are_all_kept() {
        let events = arrivals(&[
            ("p1", "e1", 10, "kafka:game-events", 2, "a"),
            ("p1", "e2", 10, "kafka:game-events", 1, "b"),
        ]);
        let (firsts, dropped) = first_arrivals(events.clone()).expect("first arrivals");
        assert_eq!(dropped, 0);
        assert!(firsts.equals(&events), "nothing dropped, nothing reordered");
    }

    #[test]
    fn an_event_that_is_not_an_object_has_no_properties() {
        let fields = fields_of(None, &["event_id"]);
        assert_eq!(fields.properties_json, "{}");
        assert!(!fields.consent_analytics, "no consent without an event");
    }

    #[test]
    fn properties_are_written_in_key_order_at_every_depth_each_key_once() {
        let text = r#"{"zeta":1,"event_id":"e-1","alpha":{"b":[{"y":1,"x":2}],"a":null},"zeta":2}"#;
        let object = parsed(text);
        let fields = fields_of(Some(&object), &["event_id"]);
        assert_eq!(
            fields.properties_json,
            r#"{"alpha":{"a":null,"b":[{"x":2,"y":1}]},"zeta":1}"#
        );
    }
}
