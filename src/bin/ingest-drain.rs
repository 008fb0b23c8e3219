//! Drain Kafka topics or replay files into the Bronze tables, exactly once.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "ingest-drain",
        "Drain Kafka topics or replay files into the Bronze tables, exactly once (not implemented yet)",
    )
}
