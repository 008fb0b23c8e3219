//! Build the Gold star schema, cohorts, campaign metrics and KPIs from Silver.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "silver-to-gold",
        "Build the Gold star schema, cohorts, campaign metrics and KPIs from Silver (not implemented yet)",
    )
}
