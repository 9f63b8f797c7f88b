//! The `hoist` binary: everything lives in the library; see `cli`.
fn main() -> std::process::ExitCode {
    hoist::cli::main()
}
