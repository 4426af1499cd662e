//! The `mac` binary; everything is in the library so that other builds can reuse it.

fn main() -> std::process::ExitCode {
    mac_cli::main()
}
