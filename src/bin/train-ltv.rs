//! Train the pLTV (D7/D30/D180) and churn models on matured cohorts.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "train-ltv",
        "Train the pLTV (D7/D30/D180) and churn models on matured cohorts (not implemented yet)",
    )
}
