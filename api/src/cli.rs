//! The process entry point shared by the `api` binary and the end-to-end test harness:
//! logging, memory settings, the runtime, the command line.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Parses the command line, sets up logging and runs; the exit code says whether it worked.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn")),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    without_huge_pages();
    let cli = crate::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, detail = ?e, "stopped");
            ExitCode::FAILURE
        }
    }
}

/// Transparent huge pages off for this process, unless `MIMALLOC_ALLOW_THP` says otherwise.
///
/// mimalloc asks the kernel for huge pages on its memory (`madvise`), so each first touch of
/// 2 MiB is zeroed at once, and purging part of it splits it again. Building a catalog of
/// 500,000 offers spent a fifth of its CPU time zeroing pages; with huge pages off the start-up
/// was about a fifth shorter and the reads no slower (BENCHMARKS.md). The flag is the kernel's
/// (`PR_SET_THP_DISABLE`), checked at each page fault, so it also covers what mimalloc mapped
/// before `main`.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none()
        && let Err(e) = nix::sys::prctl::set_thp_disable(true)
    {
        tracing::warn!(error = %e, "transparent huge pages stay on");
    }
}
