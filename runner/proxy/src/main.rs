//! `hoist-proxy`: see the crate README.

fn main() -> std::process::ExitCode {
    hoist_proxy::cli::main()
}
