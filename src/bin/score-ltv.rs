//! Score active players with the promoted pLTV and churn models.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "score-ltv",
        "Score active players with the promoted pLTV and churn models (not implemented yet)",
    )
}
