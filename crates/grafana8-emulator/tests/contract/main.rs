//! The contract suite: every assertion states what Grafana 8.5.4 answers.
//!
//! By default each test starts its own emulator in-process. With `MAC_GRAFANA_URL` (and
//! `MAC_GRAFANA_ADMIN_PASSWORD`, default `admin`) set, the same assertions run against that
//! server instead; tests then use unique names so they can share it.

mod alerting;
mod am_config;
mod am_templates;
mod annotations;
mod auth;
mod binding;
mod dashboard_permissions;
mod dashboard_save;
mod dashboards;
mod datasources;
mod faults;
mod folders;
mod frontend_settings;
mod go_maps;
mod library_elements;
mod notifiers;
mod orgs;
mod owner_markers;
mod preferences;
mod prometheus;
mod ruler;
mod ruler_validation;
mod session;
mod silences;
mod slugs;
mod support;
mod teams;
mod users;
