//! What `mac test` does with alerting rules once providers have put them in PromQL terms
//! ([`mac_core::rules`]): the equivalence check of rules and their Prometheus twins
//! ([`twins`]), and promtool unit tests of rendered Prometheus rule files ([`promtool`]).
//!
//! Knows no provider: the rules come from each kind's [`mac_core::rules::RuleView`].

pub mod promtool;
pub mod twins;
