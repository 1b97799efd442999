//! The `api` binary: everything happens in [`api::cli::main`].

fn main() -> std::process::ExitCode {
    api::cli::main()
}
