//! The contract suite: every assertion states what Grafana 8.5.4 answers.
//!
//! By default each test starts its own emulator in-process. With `MAC_GRAFANA_URL` (and
//! `MAC_GRAFANA_ADMIN_PASSWORD`, default `admin`) set, the same assertions run against that
//! server instead; tests then use unique names so they can share it.

mod alerting;
mod am_config;
mod am_templates;
mod auth;
mod dashboards;
mod datasources;
mod faults;
mod folders;
mod notifiers;
mod prometheus;
mod ruler;
mod ruler_validation;
mod support;
