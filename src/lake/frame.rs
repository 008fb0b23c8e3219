//! The one place where frames cross between polars and delta-rs.
//!
//! polars carries its own Arrow implementation (polars-arrow) and delta-rs uses arrow-rs; the
//! two meet through the Arrow C data interface, which moves buffers without copying them: each
//! column is exported by one library and imported by the other, and the release callback travels
//! with the buffers so that whichever side drops last frees them.

use std::sync::Arc;

use deltalake::arrow::array::{
    Array as _, ArrayRef, AsArray as _, GenericByteViewArray, RecordBatch, make_array,
};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::ByteViewType;
use deltalake::arrow::datatypes::{DataType as ArrowDataType, Field, Schema, SchemaRef};
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi, to_ffi};
use polars::prelude::{
    Column, CompatLevel, DataFrame, DataType, PlSmallStr, PolarsError, PolarsResult, Series,
};
use polars_arrow::ffi as polars_ffi;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
}

/// Record batches of a polars frame, one per chunk, with the frame's own column types
/// (strings as LargeUtf8: polars' oldest compatibility level is plain Arrow every reader knows).
pub fn frame_to_batches(frame: &DataFrame) -> Result<(SchemaRef, Vec<RecordBatch>), FrameError> {
    let mut frame = frame.clone();
    frame.rechunk_mut();
    let mut schema: Option<SchemaRef> = None;
    let mut batches = Vec::new();
    for chunk in frame.iter_chunks(CompatLevel::oldest(), false) {
        let (polars_schema, arrays) = chunk.into_schema_and_arrays();
        let mut fields = Vec::with_capacity(arrays.len());
        let mut columns = Vec::with_capacity(arrays.len());
        for (polars_field, array) in polars_schema.iter_values().zip(arrays) {
            let column = polars_to_arrow(array, polars_field)?;
            fields.push(Field::new(
                polars_field.name.as_str(),
                column.data_type().clone(),
                true,
            ));
            columns.push(column);
        }
        let batch_schema = schema
            .get_or_insert_with(|| Arc::new(Schema::new(fields)))
            .clone();
        batches.push(RecordBatch::try_new(batch_schema, columns)?);
    }
    // polars yields one (possibly empty) chunk for any frame with columns.
    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
    Ok((schema, batches))
}

/// `batch` with each string or binary view column that holds far more bytes than its rows
/// point to copied into buffers of its own.
///
/// DataFusion reads Parquet text as views into the decoded pages, and a filter keeps the
/// views, not the bytes: the rows of one player slice would hold on to every page of the
/// day they were read from, the whole day's raw JSON. Compacting costs a copy of the rows
/// kept, so a column that is mostly its own rows is left as it is.
pub fn compact_views(batch: RecordBatch) -> Result<RecordBatch, FrameError> {
    fn wasteful<T: ByteViewType + ?Sized>(array: &GenericByteViewArray<T>) -> bool {
        let held: usize = array.data_buffers().iter().map(|buffer| buffer.len()).sum();
        held > 2 * array.total_buffer_bytes_used()
    }
    let columns = batch
        .columns()
        .iter()
        .map(|column| -> ArrayRef {
            match column.data_type() {
                ArrowDataType::Utf8View if wasteful(column.as_string_view()) => {
                    Arc::new(column.as_string_view().gc())
                }
                ArrowDataType::BinaryView if wasteful(column.as_binary_view()) => {
                    Arc::new(column.as_binary_view().gc())
                }
                _ => column.clone(),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// A polars frame holding the rows of the batches. Dictionary-encoded columns (delta-rs may
/// encode partition values that way) are decoded first, since polars reads plain values.
pub fn batches_to_frame(schema: &Schema, batches: &[RecordBatch]) -> Result<DataFrame, FrameError> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (index, field) in schema.fields().iter().enumerate() {
        let mut chunks = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut array = batch.column(index).clone();
            if let ArrowDataType::Dictionary(_, value_type) = array.data_type() {
                array = cast(&array, value_type)?;
            }
            chunks.push(arrow_to_polars(&array)?);
        }
        let name = PlSmallStr::from_str(field.name());
        let series = if chunks.is_empty() {
            let plain = match field.data_type() {
                ArrowDataType::Dictionary(_, value_type) => field
                    .as_ref()
                    .clone()
                    .with_data_type(value_type.as_ref().clone()),
                _ => field.as_ref().clone(),
            };
            let dtype =
                polars::prelude::DataType::from_arrow_field(&arrow_field_to_polars(&plain)?);
            Series::new_empty(name, &dtype)
        } else {
            Series::from_arrow_chunks(name, chunks)?
        };
        columns.push(Column::from(series));
    }
    Ok(DataFrame::new_infer_height(columns)?)
}

/// A numeric column of `frame` as f64, nulls as 0.
pub fn float_column(frame: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::Float64)?
        .f64()?
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .collect())
}

/// A count column of `frame` (any integer type) as u64, nulls as 0.
pub fn count_column(frame: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(frame
        .column(name)?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// A string column of `frame`, row by row.
pub fn string_column(frame: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(frame
        .column(name)?
        .str()?
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect())
}

/// The distinct non-null values of a string column, sorted: the keys a stage reads by.
pub fn distinct_strings(frame: &DataFrame, column: &str) -> Result<Vec<String>, PolarsError> {
    let mut values: Vec<String> = frame
        .column(column)?
        .str()?
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

fn polars_to_arrow(
    array: Box<dyn polars_arrow::array::Array>,
    field: &polars_arrow::datatypes::Field,
) -> Result<ArrayRef, FrameError> {
    let exported_array = polars_ffi::export_array_to_c(array);
    let exported_schema = polars_ffi::export_field_to_c(field);
    // SAFETY: both types are the C data interface's `ArrowArray` / `ArrowSchema` structs,
    // #[repr(C)] with the layout the Arrow spec fixes (transmute checks the sizes). Ownership,
    // including the release callback, moves to arrow-rs, which calls it exactly once.
    let (array, schema) = unsafe {
        (
            std::mem::transmute::<polars_ffi::ArrowArray, FFI_ArrowArray>(exported_array),
            std::mem::transmute::<polars_ffi::ArrowSchema, FFI_ArrowSchema>(exported_schema),
        )
    };
    // SAFETY: the structs were just produced by a conforming exporter.
    let data = unsafe { from_ffi(array, &schema) }?;
    Ok(make_array(data))
}

fn arrow_to_polars(array: &ArrayRef) -> Result<Box<dyn polars_arrow::array::Array>, FrameError> {
    let (exported_array, exported_schema) = to_ffi(&array.to_data())?;
    // SAFETY: as in `polars_to_arrow`, in the other direction.
    let (c_array, c_schema) = unsafe {
        (
            std::mem::transmute::<FFI_ArrowArray, polars_ffi::ArrowArray>(exported_array),
            std::mem::transmute::<FFI_ArrowSchema, polars_ffi::ArrowSchema>(exported_schema),
        )
    };
    // SAFETY: the structs were just produced by arrow-rs' conforming exporter.
    let field = unsafe { polars_ffi::import_field_from_c(&c_schema) }?;
    let imported = unsafe { polars_ffi::import_array_from_c(c_array, field.dtype) }?;
    Ok(imported)
}

fn arrow_field_to_polars(field: &Field) -> Result<polars_arrow::datatypes::Field, FrameError> {
    let exported = FFI_ArrowSchema::try_from(field)?;
    // SAFETY: as in `polars_to_arrow`.
    let c_schema =
        unsafe { std::mem::transmute::<FFI_ArrowSchema, polars_ffi::ArrowSchema>(exported) };
    Ok(unsafe { polars_ffi::import_field_from_c(&c_schema) }?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use polars::prelude::df;

    #[test]
    fn a_filtered_view_column_lets_go_of_the_rows_it_dropped() {
        use deltalake::arrow::array::{BooleanArray, Int64Array, StringViewArray};
        use deltalake::arrow::compute::filter_record_batch;

        let text: Vec<String> = (0..1000)
            .map(|i| format!("{{\"event\": {i}, \"padding\": \"{}\"}}", "x".repeat(40)))
            .collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("raw_json", ArrowDataType::Utf8View, false),
            Field::new("offset", ArrowDataType::Int64, false),
        ]));
        let day = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from_iter_values(&text)),
                Arc::new(Int64Array::from_iter_values(0..1000)),
            ],
        )
        .unwrap();
        let held = |batch: &RecordBatch| -> usize {
            let views = batch.column(0).as_string_view();
            views.data_buffers().iter().map(|b| b.len()).sum()
        };
        let every_tenth = BooleanArray::from_iter((0..1000).map(|i| Some(i % 10 == 0)));
        let slice = filter_record_batch(&day, &every_tenth).unwrap();
        // The filter keeps 100 rows but all 1,000 rows' text.
        assert_eq!(held(&slice), held(&day));

        let compacted = compact_views(slice.clone()).unwrap();
        assert!(held(&compacted) * 5 < held(&day), "{}", held(&compacted));
        assert_eq!(compacted, slice, "the same rows");
        let frame = batches_to_frame(&compacted.schema(), &[compacted]).unwrap();
        assert_eq!(frame.height(), 100);
        assert_eq!(
            frame.column("raw_json").unwrap().str().unwrap().get(1),
            Some(text[10].as_str())
        );

        // A column that is mostly its own rows is not copied.
        let whole = compact_views(day.clone()).unwrap();
        assert!(whole.column(0).to_data().ptr_eq(&day.column(0).to_data()));
    }

    fn sample() -> DataFrame {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        df!(
            "player_id" => ["a", "b", "c"],
            "revenue_usd" => [Some(0.99), None, Some(49.99)],
            "sessions" => [1i64, 2, 3],
            "is_payer" => [true, false, true],
            "event_date" => [day, day, day],
        )
        .unwrap()
    }

    #[test]
    fn round_trip_keeps_values_and_types() {
        let frame = sample();
        let (schema, batches) = frame_to_batches(&frame).unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
        assert_eq!(schema.field(0).data_type(), &ArrowDataType::LargeUtf8);
        assert_eq!(schema.field(4).data_type(), &ArrowDataType::Date32);
        let back = batches_to_frame(&schema, &batches).unwrap();
        assert!(back.equals_missing(&frame), "{back}\n{frame}");
    }

    #[test]
    fn empty_frames_keep_their_schema() {
        let frame = sample().head(Some(0));
        let (schema, batches) = frame_to_batches(&frame).unwrap();
        assert_eq!(schema.fields().len(), 5);
        let back = batches_to_frame(&schema, &batches).unwrap();
        assert_eq!(back.height(), 0);
        assert_eq!(back.schema(), frame.schema());
    }

    #[test]
    fn dictionary_columns_are_decoded() {
        use deltalake::arrow::array::{DictionaryArray, Int32Array, StringArray};
        use deltalake::arrow::datatypes::Int32Type;
        let dictionary = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![0, 1, 0]),
            Arc::new(StringArray::from(vec!["2026-01-01", "2026-01-02"])),
        )
        .unwrap();
        let schema = Schema::new(vec![Field::new("d", dictionary.data_type().clone(), true)]);
        let batch =
            RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(dictionary)]).unwrap();
        let empty = batches_to_frame(&schema, &[]).unwrap();
        assert_eq!(
            empty.column("d").unwrap().dtype(),
            &polars::prelude::DataType::String
        );
        let frame = batches_to_frame(&schema, &[batch]).unwrap();
        let column = frame.column("d").unwrap().str().unwrap();
        let values: Vec<_> = column.iter().flatten().collect();
        assert_eq!(values, ["2026-01-01", "2026-01-02", "2026-01-01"]);
    }
}
