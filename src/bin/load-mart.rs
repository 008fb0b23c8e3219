//! Load Gold into the Postgres mart that Tableau reads.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "load-mart",
        "Load Gold into the Postgres mart that Tableau reads (not implemented yet)",
    )
}
