//! The `grafana8-emulator` binary: serves the emulator on a fixed address and logs one line
//! per request.

use anyhow::Context;
use clap::Parser;
use grafana8_emulator::{Emulator, EmulatorConfig, Seed};
use std::net::SocketAddr;
use std::path::PathBuf;

/// An in-memory Grafana 8.5.4 HTTP API emulator with fault injection.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Password of the `admin` user.
    #[arg(long, default_value = "admin", env = "GF_SECURITY_ADMIN_PASSWORD")]
    admin_password: String,
    /// TOML seed: orgs, users, teams, provisioned data sources and faults.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Fault configuration as JSON (see /__emulator/faults); overrides the seed's.
    #[arg(long)]
    faults: Option<String>,
    /// Do not log requests.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read seed {}", path.display()))?;
            Seed::from_toml(&text).with_context(|| format!("in seed {}", path.display()))?
        }
        None => Seed::default(),
    };
    let mut faults = seed.faults.clone().unwrap_or_default();
    if let Some(f) = &args.faults {
        faults = serde_json::from_str(f).context("--faults is not a valid fault configuration")?;
    }
    let config = EmulatorConfig {
        listen: args.listen,
        admin_password: args.admin_password.clone(),
        seed,
        faults,
        log_requests: !args.quiet,
    };
    let emu = Emulator::start(config).await?;
    eprintln!("grafana8-emulator (Grafana 8.5.4 API) listening on {}", emu.base_url());
    tokio::signal::ctrl_c().await.context("cannot wait for ctrl-c")?;
    drop(emu);
    Ok(())
}
