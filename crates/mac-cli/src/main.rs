//! The `mac` binary; everything is in the library so that other builds can reuse it.

// mac builds and drops many small JSON values across tokio's worker threads; with glibc's
// malloc that costs a third of a plan's CPU and leaves the RSS at about three times the live
// heap (per-thread arenas, fragmentation). mimalloc keeps both close to the work
// (`cargo xtask bench` shows the figures). The `system-allocator` feature leaves it out, for
// heap profilers (heaptrack, valgrind's dhat) that see only the system allocator's calls.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mac_cli::main()
}
