//! Compute campaign ROAS and decide Scale / Watch / Pause with bid changes.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "optimize-campaigns",
        "Compute campaign ROAS and decide Scale / Watch / Pause with bid changes (not implemented yet)",
    )
}
