//! The syntax Grafana 8.5.4's Alertmanager accepts, checked offline: message templates
//! (`template`, Go 1.17's text/template parser with Alertmanager's functions) and mute time
//! intervals (`time_interval`, the vendored Alertmanager's `timeinterval` package). One
//! implementation serves the grafana8 provider, which reports a mistake at its definition's
//! line before any write, and the Grafana emulator, which refuses what Grafana refuses.

pub mod go;
pub mod template;
pub mod time_interval;
