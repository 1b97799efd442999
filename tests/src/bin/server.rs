//! The API binary for the end-to-end tests: the same entry point as `api`.

fn main() -> std::process::ExitCode {
    api::cli::main()
}
