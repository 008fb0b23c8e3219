//! Validate, clean, deduplicate and enrich Bronze rows into the Silver tables.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "bronze-to-silver",
        "Validate, clean, deduplicate and enrich Bronze rows into the Silver tables (not implemented yet)",
    )
}
