//! `cargo xtask grafana`: would build and run a real Grafana 8.5.4 from its Go module
//! (issue 3). That module cannot be had on this workplace: the Go module proxy answers 403
//! for `github.com/grafana/grafana` (AGPL), so the task says so instead of pretending. Tests
//! run against `crates/grafana8-emulator`, whose contract suite takes a real server's URL
//! through `MAC_GRAFANA_URL` wherever one is available.

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    Err("a real Grafana 8.5.4 cannot be built here: the Go module proxy refuses github.com/grafana/grafana (403, AGPL; issue 3). \
         Point the emulator's contract suite at a running Grafana 8.5 with MAC_GRAFANA_URL=http://… MAC_GRAFANA_ADMIN_PASSWORD=… \
         cargo test -p grafana8-emulator --test contract"
        .to_owned())
}
