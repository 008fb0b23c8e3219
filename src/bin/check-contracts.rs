//! Lint data contracts, check compatibility and validate lake partitions.

fn main() -> std::process::ExitCode {
    ltv_lakehouse::run::not_implemented_main(
        "check-contracts",
        "Lint data contracts, check compatibility and validate lake partitions (not implemented yet)",
    )
}
