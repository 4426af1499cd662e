//! `cargo run -p library-usage -- URL DATASOURCE_UID`: plans and applies the payments team's
//! alerts (from Rust functions) to a Grafana 8.5, e.g. the emulator of `cargo xtask demo`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(datasource)) = (args.next(), args.next()) else {
        eprintln!("usage: library-usage GRAFANA_URL DATASOURCE_UID   (admin password in GRAFANA_PASSWORD)");
        return ExitCode::FAILURE;
    };
    match run(&url, &datasource).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str, datasource: &str) -> Result<(), library_usage::Error> {
    let providers = library_usage::providers(url, serde_json::json!({ "env": "GRAFANA_PASSWORD" }))?;
    let definitions = library_usage::team_definitions("payments", &["checkout", "refunds"], datasource)?;
    let state = std::path::Path::new(".mac/library-usage-state.json");
    let plan = library_usage::plan(&providers, &definitions, state).await?;
    for action in &plan.actions {
        println!("{:?} {} ({} changes)", action.operation, action.id, action.changes.len());
    }
    let report = library_usage::apply(&providers, &plan, state).await?;
    println!("applied: {} actions, all succeeded: {}", report.actions.len(), report.succeeded());
    Ok(())
}
