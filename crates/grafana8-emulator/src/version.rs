//! The Grafana build the emulator answers as, in `/api/health` and the frontend settings.

/// The commit of Grafana's v8.5.4 tag, as `/api/health` reports it.
pub(crate) const GRAFANA_COMMIT: &str = "78ee958143";
/// The emulated version.
pub(crate) const GRAFANA_VERSION: &str = "8.5.4";
/// `main.buildstamp` of a v8.5.4 build: pkg/build/cmd.go stamps the tag commit's time
/// (`git show -s --format=%ct`).
pub(crate) const GRAFANA_BUILDSTAMP: i64 = 1_653_918_903;
