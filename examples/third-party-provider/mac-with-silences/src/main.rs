//! `mac` with the Alertmanager silences provider: the whole of a custom build. Naming the
//! provider crate keeps the linker from dropping it, and its `inventory::submit!` with it.

extern crate mac_provider_alertmanager_silences as _;

fn main() -> std::process::ExitCode {
    mac_cli::main()
}
