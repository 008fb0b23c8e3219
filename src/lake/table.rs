//! Table names and schemas: what a table is called, where it lives, how it is partitioned.

use std::fmt;
use std::sync::Arc;

use deltalake::arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::{DataType as DeltaType, StructField};
use serde::Serialize;

/// The medallion layer a table belongs to; also the first folder of its path in the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Bronze,
    Silver,
    Gold,
    /// Lake-side bookkeeping: the model registry, run ledgers.
    Meta,
}

impl Layer {
    pub const fn as_str(self) -> &'static str {
        match self {
            Layer::Bronze => "bronze",
            Layer::Silver => "silver",
            Layer::Gold => "gold",
            Layer::Meta => "meta",
        }
    }
}

/// A table's name, `layer.name`, e.g. `bronze.game_events`; stored at `<lake>/bronze/game_events/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    layer: Layer,
    name: &'static str,
}

impl TableName {
    pub const fn new(layer: Layer, name: &'static str) -> Self {
        TableName { layer, name }
    }

    pub const fn layer(&self) -> Layer {
        self.layer
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Path of the table below the lake root, with a trailing slash.
    pub fn path(&self) -> String {
        format!("{}/{}/", self.layer.as_str(), self.name)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer.as_str(), self.name)
    }
}

impl Serialize for TableName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// ColumnSpec types the lake uses, each with one Delta type and one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Int32,
    Int64,
    Float64,
    Boolean,
    Date,
    /// Microseconds since the epoch, UTC.
    Timestamp,
    Binary,
}

impl ColumnType {
    pub fn arrow(self) -> ArrowType {
        match self {
            ColumnType::String => ArrowType::Utf8,
            ColumnType::Int32 => ArrowType::Int32,
            ColumnType::Int64 => ArrowType::Int64,
            ColumnType::Float64 => ArrowType::Float64,
            ColumnType::Boolean => ArrowType::Boolean,
            ColumnType::Date => ArrowType::Date32,
            ColumnType::Timestamp => {
                ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            ColumnType::Binary => ArrowType::Binary,
        }
    }

    pub fn delta(self) -> DeltaType {
        match self {
            ColumnType::String => DeltaType::STRING,
            ColumnType::Int32 => DeltaType::INTEGER,
            ColumnType::Int64 => DeltaType::LONG,
            ColumnType::Float64 => DeltaType::DOUBLE,
            ColumnType::Boolean => DeltaType::BOOLEAN,
            ColumnType::Date => DeltaType::DATE,
            ColumnType::Timestamp => DeltaType::TIMESTAMP,
            ColumnType::Binary => DeltaType::BINARY,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
}

impl ColumnSpec {
    pub const fn required(name: &'static str, kind: ColumnType) -> Self {
        ColumnSpec {
            name,
            kind,
            nullable: false,
        }
    }

    pub const fn optional(name: &'static str, kind: ColumnType) -> Self {
        ColumnSpec {
            name,
            kind,
            nullable: true,
        }
    }
}

/// Everything the lake needs to know to create, write and read one table.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: TableName,
    pub columns: &'static [ColumnSpec],
    pub partition_by: &'static [&'static str],
    /// The date column `--from/--to` select on; a partition column, so a range maps to files.
    pub date_column: Option<&'static str>,
    /// The columns that identify a row, for MERGE.
    pub key: &'static [&'static str],
}

impl TableSpec {
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|column| Field::new(column.name, column.kind.arrow(), column.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    pub fn delta_fields(&self) -> Vec<StructField> {
        self.columns
            .iter()
            .map(|column| StructField::new(column.name, column.kind.delta(), column.nullable))
            .collect()
    }

    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|column| column.name == name)
    }
}
