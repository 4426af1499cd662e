//! A bounded loopback load check: starts an emulator in-process and sends a fixed number of
//! authenticated requests (folder reads, ruler group reads and writes) from concurrent tasks,
//! then prints the throughput. `cargo run --release -p grafana8-emulator --example load [N]`.

use grafana8_emulator::{Emulator, EmulatorConfig, Role};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let workers = 32;
    let emu = Emulator::start(EmulatorConfig::default()).await?;
    let key = emu.create_api_key("load", Role::Admin).await?;
    let ds = emu.create_prometheus_datasource("prom", "http://127.0.0.1:9090").await?;
    let base = emu.base_url();
    let client = reqwest::Client::new();
    let folder: serde_json::Value = client
        .post(format!("{base}/api/folders"))
        .bearer_auth(&key)
        .json(&json!({"title": "load"}))
        .send()
        .await?
        .json()
        .await?;
    let uid = folder["uid"].as_str().unwrap_or_default().to_string();
    let shared = Arc::new((client, base, key, uid, ds));
    let start = Instant::now();
    let mut tasks = vec![];
    for w in 0..workers {
        let shared = shared.clone();
        tasks.push(tokio::spawn(async move {
            let (client, base, key, uid, ds) = &*shared;
            // Each worker owns one group and one rule title, so its writes never conflict.
            let group = json!({"name": format!("g{w}"), "interval": "1m", "rules": [{"grafana_alert": {"title": format!("r{w}"), "condition": "A",
                "data": [{"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": ds, "model": {"expr": "up"}}]}}]});
            let empty = json!({"name": format!("g{w}"), "rules": []});
            let mut errors = 0usize;
            for i in (w..total).step_by(workers) {
                let req = match i % 4 {
                    0 => client.get(format!("{base}/api/folders/{uid}")),
                    1 => client.get(format!("{base}/api/ruler/grafana/api/v1/rules/load/g{w}")),
                    2 => client.get(format!("{base}/api/folders")),
                    // Alternately create the rule and delete it (a re-POST without its uid
                    // would be a title conflict in 8.5).
                    _ if (i / workers) % 8 == 3 => client.post(format!("{base}/api/ruler/grafana/api/v1/rules/load")).json(&group),
                    _ => client.post(format!("{base}/api/ruler/grafana/api/v1/rules/load")).json(&empty),
                };
                match req.bearer_auth(key).send().await {
                    Ok(r) if r.status().as_u16() < 300 => {}
                    _ => errors += 1,
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap_or(1);
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{total} requests, {errors} errors, {secs:.2}s, {:.0} req/s", total as f64 / secs);
    Ok(())
}
