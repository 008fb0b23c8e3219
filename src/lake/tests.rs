//! The lake against real Delta tables in a temporary folder.

use chrono::NaiveDate;
use polars::prelude::{DataFrame, SortMultipleOptions, df};

use deltalake::parquet::file::reader::{FileReader as _, SerializedFileReader};
use deltalake::parquet::file::serialized_reader::ReadOptionsBuilder;

use super::*;

const COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::required("event_id", ColumnType::String),
    ColumnSpec::required("event_date", ColumnType::Date),
    ColumnSpec::optional("revenue_usd", ColumnType::Float64),
];

const EVENTS: TableSpec = TableSpec {
    name: TableName::new(Layer::Silver, "test_events"),
    columns: COLUMNS,
    partition_by: &["event_date"],
    date_column: Some("event_date"),
    key: &["event_id"],
};

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, n).unwrap()
}

fn rows(ids: &[&str], days: &[u32], revenue: &[f64]) -> DataFrame {
    df!(
        "revenue_usd" => revenue,
        "event_id" => ids,
        "event_date" => days.iter().map(|&d| day(d)).collect::<Vec<_>>(),
    )
    .unwrap()
}

fn lake(folder: &tempfile::TempDir) -> Lake {
    let uri = LakeUri::parse(folder.path().to_str().unwrap()).unwrap();
    Lake::new(
        uri,
        Committer {
            job: "lake-test".into(),
            run_id: Some("test-run".into()),
        },
    )
}

async fn sorted(lake: &Lake, filter: Option<Expr>) -> DataFrame {
    lake.read(&EVENTS, filter)
        .await
        .unwrap()
        .sort(["event_id"], SortMultipleOptions::default())
        .unwrap()
}

fn ids(frame: &DataFrame) -> Vec<String> {
    frame
        .column("event_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect()
}

fn revenue(frame: &DataFrame) -> Vec<f64> {
    frame
        .column("revenue_usd")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .flatten()
        .collect()
}

#[tokio::test]
async fn replace_where_rerun_leaves_one_copy() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let range = DateRange::new(day(1), day(2)).unwrap();
    let batch = rows(&["a", "b", "c"], &[1, 1, 2], &[1.0, 2.0, 3.0]);

    let first = lake.replace_range(&EVENTS, &batch, &range).await.unwrap();
    let second = lake.replace_range(&EVENTS, &batch, &range).await.unwrap();

    assert_eq!(first.rows_written, 3);
    assert!(second.version > first.version);
    let stored = sorted(&lake, None).await;
    assert_eq!(ids(&stored), ["a", "b", "c"]);
    // Columns come back in the table's order and types, whatever the frame's order was.
    assert_eq!(
        stored.get_column_names(),
        ["event_id", "event_date", "revenue_usd"]
    );
    assert_eq!(
        stored.column("event_date").unwrap().dtype(),
        &polars::prelude::DataType::Date
    );
}

#[tokio::test]
async fn replace_where_touches_only_its_days() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let both_days = DateRange::new(day(1), day(2)).unwrap();
    lake.replace_range(
        &EVENTS,
        &rows(&["a", "b"], &[1, 2], &[1.0, 2.0]),
        &both_days,
    )
    .await
    .unwrap();

    let day_two = DateRange::single(day(2));
    lake.replace_range(
        &EVENTS,
        &rows(&["b2", "b3"], &[2, 2], &[5.0, 6.0]),
        &day_two,
    )
    .await
    .unwrap();

    assert_eq!(ids(&sorted(&lake, None).await), ["a", "b2", "b3"]);
    let day_two_rows = lake.read_range(&EVENTS, &day_two).await.unwrap();
    assert_eq!(day_two_rows.height(), 2);

    // An empty frame empties the range: the day really has no rows now.
    let empty = rows(&[], &[], &[]);
    lake.replace_range(&EVENTS, &empty, &day_two).await.unwrap();
    assert_eq!(ids(&sorted(&lake, None).await), ["a"]);
}

#[tokio::test]
async fn rows_outside_the_replaced_range_are_refused() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let outcome = lake
        .replace_range(
            &EVENTS,
            &rows(&["a", "late"], &[1, 9], &[1.0, 1.0]),
            &DateRange::single(day(1)),
        )
        .await;
    assert!(
        matches!(outcome, Err(LakeError::Delta { .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn merge_updates_matches_and_inserts_the_rest() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    lake.merge(&EVENTS, &rows(&["a", "b"], &[1, 1], &[1.0, 2.0]))
        .await
        .unwrap();
    lake.merge(&EVENTS, &rows(&["b", "c"], &[1, 2], &[20.0, 3.0]))
        .await
        .unwrap();

    let stored = sorted(&lake, None).await;
    assert_eq!(ids(&stored), ["a", "b", "c"]);
    assert_eq!(revenue(&stored), [1.0, 20.0, 3.0]);
}

/// The commit info the log holds for `version` of `spec`'s table.
fn commit_info(lake: &Lake, spec: &TableSpec, version: Option<u64>) -> serde_json::Value {
    let log = lake
        .table_url(&spec.name)
        .to_file_path()
        .unwrap()
        .join("_delta_log")
        .join(format!(
            "{:020}.json",
            version.expect("a committed version")
        ));
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find_map(|action| action.get("commitInfo").cloned())
        .expect("a commitInfo action")
}

fn inserted_without_a_join(info: &serde_json::Value) -> bool {
    info["operation_parameters"]["insert_only"] == json!(true)
}

#[tokio::test]
async fn a_merge_that_can_match_no_stored_key_inserts_without_a_join() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let merge = |ids: &'static [&'static str], revenue: &'static [f64]| {
        let lake = &lake;
        async move {
            let days = vec![1; ids.len()];
            let outcome = lake
                .merge(&EVENTS, &rows(ids, &days, revenue))
                .await
                .unwrap();
            commit_info(lake, &EVENTS, outcome.version)
        }
    };

    // A first load, then keys beyond every stored one: nothing to match.
    let first = merge(&["b", "c"], &[2.0, 3.0]).await;
    assert!(inserted_without_a_join(&first), "{first}");
    assert_eq!(first["operation"], "MERGE");
    // What it read, for Delta's conflict check: the rows' key bounds, not the whole table.
    let read = first["operationParameters"]["predicate"]
        .as_str()
        .unwrap_or_default();
    assert!(read.contains("event_id") && read.contains("'c'"), "{first}");
    assert!(inserted_without_a_join(
        &merge(&["d", "e"], &[4.0, 5.0]).await
    ));
    // Between stored keys but none stored within its own bounds: still an insert.
    assert!(inserted_without_a_join(&merge(&["cc"], &[3.5]).await));
    // A stored key within the bounds: the real MERGE, which updates it.
    let update = merge(&["a", "c"], &[1.0, 30.0]).await;
    assert!(!inserted_without_a_join(&update), "{update}");
    assert_eq!(update["operation"], "MERGE");
    // Bounds holding a stored key that the rows do not have ("c" lies between "bb" and "d"):
    // the real MERGE too, and it inserts both.
    assert!(!inserted_without_a_join(
        &merge(&["bb", "dd"], &[2.5, 4.5]).await
    ));

    // A date key's bound reads back as the same predicate when Delta checks a conflict.
    let by_day = TableSpec {
        name: TableName::new(Layer::Silver, "test_events_by_day"),
        key: &["event_date", "event_id"],
        ..EVENTS
    };
    let outcome = lake
        .merge(&by_day, &rows(&["a", "b"], &[1, 2], &[1.0, 2.0]))
        .await
        .unwrap();
    let info = commit_info(&lake, &by_day, outcome.version);
    assert!(inserted_without_a_join(&info), "{info}");
    let read = info["operationParameters"]["predicate"].as_str().unwrap();
    let schema =
        deltalake::datafusion::common::DFSchema::try_from(by_day.arrow_schema().as_ref().clone())
            .unwrap();
    let session = SessionContext::new();
    let parsed = deltalake::delta_datafusion::expr::parse_predicate_expression(
        &schema,
        read,
        &session.state(),
    );
    assert!(parsed.is_ok(), "{read}: {parsed:?}");

    let stored = sorted(&lake, None).await;
    assert_eq!(
        ids(&stored),
        ["a", "b", "bb", "c", "cc", "d", "dd", "e"],
        "each key once"
    );
    assert_eq!(revenue(&stored), [1.0, 2.0, 2.5, 30.0, 3.5, 4.0, 4.5, 5.0]);
}

#[tokio::test]
async fn a_merge_that_may_match_reads_only_the_files_whose_keys_it_may_match() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    // Three files of one day, each of its own key range: each load is beyond the last.
    for ids in [["a", "b"], ["m", "n"], ["x", "y"]] {
        let outcome = lake
            .merge(&EVENTS, &rows(&ids, &[1, 1], &[1.0, 1.0]))
            .await
            .unwrap();
        assert!(inserted_without_a_join(&commit_info(
            &lake,
            &EVENTS,
            outcome.version
        )));
    }
    // A stored key ("n") and a new one: the MERGE proper, on the same day's partition.
    let outcome = lake
        .merge(&EVENTS, &rows(&["n", "o"], &[1, 1], &[2.0, 3.0]))
        .await
        .unwrap();
    let info = commit_info(&lake, &EVENTS, outcome.version);
    assert!(!inserted_without_a_join(&info), "{info}");
    // The files' key statistics rule out the other two: only the file of "m" and "n" is read
    // and rewritten (a rerun of a busy day would otherwise read the whole day's partition).
    let metrics = &info["operationMetrics"];
    assert_eq!(metrics["num_target_files_scanned"], 1, "{info}");
    assert_eq!(metrics["num_target_files_removed"], 1, "{info}");
    assert_eq!(metrics["num_target_rows_updated"], 1, "{info}");
    assert_eq!(metrics["num_target_rows_inserted"], 1, "{info}");
    assert_eq!(
        ids(&sorted(&lake, None).await),
        ["a", "b", "m", "n", "o", "x", "y"]
    );
}

#[tokio::test]
async fn append_once_is_skipped_when_its_transaction_is_committed() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let txn = |version| AppTxn {
        app_id: "ingest-game-events-0".into(),
        version,
    };
    let first = rows(&["a", "b"], &[1, 1], &[0.0, 0.0]);

    let written = lake.append_once(&EVENTS, &first, &[txn(41)]).await.unwrap();
    let replay = lake.append_once(&EVENTS, &first, &[txn(41)]).await.unwrap();
    let next = lake
        .append_once(&EVENTS, &rows(&["c"], &[2], &[0.0]), &[txn(42)])
        .await
        .unwrap();

    assert!(!written.skipped);
    assert!(replay.skipped);
    assert_eq!(replay.version, written.version);
    assert!(!next.skipped);
    assert_eq!(
        lake.app_txn_version(&EVENTS.name, "ingest-game-events-0")
            .await
            .unwrap(),
        Some(42)
    );
    assert_eq!(ids(&sorted(&lake, None).await), ["a", "b", "c"]);
}

#[tokio::test]
async fn an_append_written_in_parts_commits_once_and_not_again() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let txn = [AppTxn {
        app_id: "ingest-drain:file:0123".into(),
        version: 1,
    }];
    let part = |ids: &[&str]| rows(ids, &vec![1; ids.len()], &vec![0.0; ids.len()]);

    let mut append = lake.begin_append(&EVENTS).await.unwrap();
    append.write(&part(&["a", "b"])).await.unwrap();
    append.write(&part(&["c"])).await.unwrap();
    let created = lake.version(&EVENTS.name).await.unwrap();
    let written = lake.commit_once(append, &txn).await.unwrap();
    let mut replay = lake.begin_append(&EVENTS).await.unwrap();
    replay.write(&part(&["a", "b", "c"])).await.unwrap();
    let replayed = lake.commit_once(replay, &txn).await.unwrap();

    assert_eq!(written.rows_written, 3);
    assert_eq!(
        written.version,
        created.map(|version| version + 1),
        "one commit"
    );
    assert!(replayed.skipped);
    assert_eq!(replayed.version, written.version);
    assert_eq!(ids(&sorted(&lake, None).await), ["a", "b", "c"]);
}

#[tokio::test]
async fn an_append_files_each_row_under_its_partition_whether_a_batch_holds_one_or_several() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let txn = |version| AppTxn {
        app_id: "partitions".into(),
        version,
    };
    // One day: written as one partition. Three days: split by delta-rs.
    lake.append_once(&EVENTS, &rows(&["a", "b"], &[2, 2], &[1.0, 2.0]), &[txn(1)])
        .await
        .unwrap();
    let mixed = rows(&["c", "d", "e"], &[1, 2, 3], &[3.0, 4.0, 5.0]);
    lake.append_once(&EVENTS, &mixed, &[txn(2)]).await.unwrap();

    let batch = |days: &[u32]| {
        let frame = rows(&vec!["x"; days.len()], days, &vec![0.0; days.len()]);
        let (batches, _) = conform(&EVENTS, &frame).unwrap();
        batches.into_iter().next().unwrap()
    };
    assert!(is_one_partition(&batch(&[2, 2]), EVENTS.partition_by));
    assert!(!is_one_partition(&batch(&[1, 2]), EVENTS.partition_by));
    assert!(!is_one_partition(&batch(&[2, 2]), &[]));

    for (n, expected) in [(1, vec!["c"]), (2, vec!["a", "b", "d"]), (3, vec!["e"])] {
        let filter = column_on_day("event_date", day(n));
        assert_eq!(ids(&sorted(&lake, Some(filter)).await), expected, "day {n}");
        let folder = folder
            .path()
            .join(format!("silver/test_events/event_date=2026-01-0{n}"));
        assert!(folder.is_dir(), "{} is missing", folder.display());
        // Appends write Zstandard, whichever way the batch was split.
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = std::fs::File::open(file.unwrap().path()).unwrap();
            let reader = SerializedFileReader::new(file).unwrap();
            for column in reader.metadata().row_group(0).columns() {
                assert!(
                    matches!(column.compression(), Compression::ZSTD(_)),
                    "{:?}",
                    column.compression()
                );
            }
        }
    }
}

#[tokio::test]
async fn an_append_ends_its_pages_at_a_few_thousand_rows_so_a_slice_reads_only_its_own() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    // Enough rows for each writer to fill a few pages.
    let count = 3 * APPEND_PAGE_ROWS * append_writers();
    let ids: Vec<String> = (0..count).map(|i| format!("e{i:06}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let txn = AppTxn {
        app_id: "pages".into(),
        version: 1,
    };
    lake.append_once(
        &EVENTS,
        &rows(&ids, &vec![2; count], &vec![1.0; count]),
        &[txn],
    )
    .await
    .unwrap();

    // One file per core; every column of each ends a page by APPEND_PAGE_ROWS rows, where the
    // parquet crate's default would keep each file's ids in one page.
    let folder = folder
        .path()
        .join("silver/test_events/event_date=2026-01-02");
    let mut rows_read = 0;
    for file in std::fs::read_dir(&folder).unwrap() {
        let file = std::fs::File::open(file.unwrap().path()).unwrap();
        let options = ReadOptionsBuilder::new().with_page_index().build();
        let reader = SerializedFileReader::new_with_options(file, options).unwrap();
        let metadata = reader.metadata();
        let file_rows = metadata.file_metadata().num_rows();
        rows_read += file_rows;
        let offsets = metadata.offset_index().expect("appends write a page index");
        for (group, columns) in offsets.iter().enumerate() {
            let group_rows = metadata.row_group(group).num_rows();
            for (column, index) in columns.iter().enumerate() {
                let starts: Vec<i64> = index
                    .page_locations()
                    .iter()
                    .map(|page| page.first_row_index)
                    .chain([group_rows])
                    .collect();
                let largest = starts.windows(2).map(|w| w[1] - w[0]).max().unwrap();
                assert!(
                    largest <= APPEND_PAGE_ROWS as i64,
                    "column {column}: a page of {largest} rows"
                );
            }
        }
    }
    assert_eq!(rows_read, count as i64);
}

#[tokio::test]
async fn a_missing_table_is_named_in_the_error() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let err = lake.read(&EVENTS, None).await.unwrap_err();
    assert!(matches!(err, LakeError::TableNotFound { .. }));
    assert!(err.to_string().contains("silver.test_events"), "{err}");
}

#[tokio::test]
async fn a_frame_missing_a_column_is_refused_before_writing() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let frame = df!("event_id" => ["a"]).unwrap();
    let err = lake
        .replace_range(&EVENTS, &frame, &DateRange::single(day(1)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`event_date` is missing"), "{err}");
    assert_eq!(lake.version(&EVENTS.name).await.unwrap(), None);
}

#[tokio::test]
async fn reading_ten_thousand_keys_finds_each_stored_one_once() {
    let folder = tempfile::tempdir().unwrap();
    let lake = lake(&folder);
    let stored: Vec<String> = (0..6000).map(|i| format!("e{i:06}")).collect();
    let stored_refs: Vec<&str> = stored.iter().map(String::as_str).collect();
    let days: Vec<u32> = (0..stored.len()).map(|i| 1 + (i % 2) as u32).collect();
    lake.replace_range(
        &EVENTS,
        &rows(&stored_refs, &days, &vec![1.0; stored.len()]),
        &DateRange::new(day(1), day(2)).unwrap(),
    )
    .await
    .unwrap();
    // Every other stored id and 7,000 that are not stored: 10,000 values.
    let mut wanted: Vec<String> = stored.iter().step_by(2).cloned().collect();
    wanted.extend((0..7000).map(|i| format!("missing{i}")));
    let found = lake
        .read_matching(&EVENTS, "event_id", &wanted, None, Columns::All)
        .await
        .unwrap()
        .sort(["event_id"], SortMultipleOptions::default())
        .unwrap();
    assert_eq!(
        ids(&found),
        stored.iter().step_by(2).cloned().collect::<Vec<_>>()
    );
    // With a filter: the ids of day 1 only (the even positions are all day 1).
    let day_two = lake
        .read_matching(
            &EVENTS,
            "event_id",
            &wanted,
            Some(column_on_day("event_date", day(2))),
            Columns::All,
        )
        .await
        .unwrap();
    assert_eq!(day_two.height(), 0);
    assert!(
        lake.read_matching(&EVENTS, "event_id", &[], None, Columns::All)
            .await
            .unwrap()
            .height()
            == 0
    );
    let never_written = TableSpec {
        name: TableName::new(Layer::Silver, "nowhere"),
        ..EVENTS
    };
    assert!(matches!(
        lake.read_matching(&never_written, "event_id", &wanted, None, Columns::All)
            .await,
        Err(LakeError::TableNotFound { .. })
    ));
    // Only the asked columns come back, though the match is on one left out.
    let revenue = lake
        .read_matching(
            &EVENTS,
            "event_id",
            &wanted,
            None,
            Columns::Only(&["revenue_usd"]),
        )
        .await
        .unwrap();
    assert_eq!(revenue.get_column_names(), ["revenue_usd"]);
    assert_eq!(revenue.height(), found.height());
    let nowhere = lake
        .read_matching_or_empty(
            &never_written,
            "event_id",
            &wanted,
            None,
            Columns::Only(&["event_date", "revenue_usd"]),
        )
        .await
        .unwrap();
    assert_eq!(nowhere.height(), 0);
    assert_eq!(nowhere.get_column_names(), ["event_date", "revenue_usd"]);
}

#[test]
fn writers_get_even_runs_of_consecutive_rows() {
    let numbers = |range: std::ops::Range<i64>| {
        let column = deltalake::arrow::array::Int64Array::from_iter_values(range);
        RecordBatch::try_from_iter([("n", Arc::new(column) as deltalake::arrow::array::ArrayRef)])
            .unwrap()
    };
    let rows_of = |run: &Vec<RecordBatch>| -> Vec<i64> {
        run.iter()
            .flat_map(|batch| {
                let column = batch.column(0).as_any();
                let values = column
                    .downcast_ref::<deltalake::arrow::array::Int64Array>()
                    .unwrap();
                values.values().to_vec()
            })
            .collect()
    };
    // Batches of 7, 1 and 4 rows: two runs of 6, the first batch cut where the first ends.
    let runs = runs_of_rows(vec![numbers(0..7), numbers(7..8), numbers(8..12)], 2);
    let runs: Vec<Vec<i64>> = runs.iter().map(rows_of).collect();
    assert_eq!(runs, [(0..6).collect::<Vec<_>>(), (6..12).collect()]);
    // Fewer rows than writers: no empty run; no rows at all: no run.
    assert_eq!(runs_of_rows(vec![numbers(0..1)], 2).len(), 1);
    assert!(runs_of_rows(vec![numbers(0..0)], 2).is_empty());
}
