//! The `api` binary: everything happens in [`api::cli::main`].

/// mimalloc rather than the system allocator: requests, tiles and imports allocate many small,
/// short-lived values on every core, where glibc's malloc spent a quarter of an import's time
/// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::main()
}
