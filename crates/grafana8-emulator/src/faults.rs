//! Fault and latency injection, and the per-route request counter.
//!
//! Faults are matched against the route *template* (e.g. `/api/folders/{uid}`), so "the 3rd
//! request to `PUT /api/folders/{uid}`" means the same thing whatever uid is addressed. Every
//! random draw comes from one RNG seeded from [`FaultConfig::seed`], so a run that sends the
//! same requests in the same order sees the same faults.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Per-request latency added before a request is handled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Latency {
    /// Always wait `ms` milliseconds.
    Fixed {
        /// Milliseconds.
        ms: u64,
    },
    /// Wait a uniformly drawn time in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: u64,
        /// Upper bound, milliseconds.
        max_ms: u64,
    },
}

/// What an injected failure does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 500 `{"message":"Internal Server Error"}`.
    Status500,
    /// 502 `{"message":"Bad Gateway"}`.
    Status502,
    /// 429 `{"message":"Too Many Requests"}` with `Retry-After`.
    Status429,
    /// Close the connection without answering.
    Drop,
}

/// One fault rule. A request matches when its method and route template match (either may be
/// omitted to match everything). A matching request fails when it is the `nth` matching
/// request (1-based), or with `probability`; with neither set every matching request fails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method, e.g. `POST`; `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Route template, e.g. `/api/ruler/grafana/api/v1/rules/{Namespace}`; `None` matches any.
    #[serde(default)]
    pub route: Option<String>,
    /// What to do to a failing request.
    pub fault: FaultKind,
    /// Fail only the nth matching request (1-based).
    #[serde(default)]
    pub nth: Option<u64>,
    /// Fail each matching request with this probability (0.0-1.0).
    #[serde(default)]
    pub probability: Option<f64>,
    /// `Retry-After` seconds for 429 (default 1).
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// The whole fault configuration; replaceable at run time through `PUT /__emulator/faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultConfig {
    /// Seed of the RNG behind latency and probability draws.
    #[serde(default)]
    pub seed: u64,
    /// Latency added to every `/api/` request.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Failure rules; the first rule that fires wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// What the middleware must do with one request.
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    Pass,
    Fail(FaultKind, u64),
}

#[derive(Debug)]
pub(crate) struct FaultState {
    pub config: FaultConfig,
    rng: StdRng,
    /// Matching-request counts per rule index.
    seen: Vec<u64>,
}

impl FaultState {
    pub(crate) fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        let seen = vec![0; config.rules.len()];
        FaultState { config, rng, seen }
    }

    /// Draws the latency and the fault decision for one request.
    pub(crate) fn decide(&mut self, method: &str, route: &str) -> (Option<Duration>, Decision) {
        let latency = match &self.config.latency {
            None => None,
            Some(Latency::Fixed { ms }) => Some(Duration::from_millis(*ms)),
            Some(Latency::Uniform { min_ms, max_ms }) => {
                let (lo, hi) = (*min_ms.min(max_ms), *min_ms.max(max_ms));
                Some(Duration::from_millis(self.rng.random_range(lo..=hi)))
            }
        };
        // Every matching rule counts the request, whether or not an earlier rule fires, so
        // "the nth request of a route" means the same for every rule.
        let mut decision = Decision::Pass;
        for (i, rule) in self.config.rules.iter().enumerate() {
            if rule.method.as_deref().is_some_and(|m| !m.eq_ignore_ascii_case(method)) {
                continue;
            }
            if rule.route.as_deref().is_some_and(|r| r != route && r != "*") {
                continue;
            }
            self.seen[i] += 1;
            let fire = match (rule.nth, rule.probability) {
                (Some(n), _) => self.seen[i] == n,
                (None, Some(p)) => self.rng.random_bool(p.clamp(0.0, 1.0)),
                (None, None) => true,
            };
            if fire && decision == Decision::Pass {
                decision = Decision::Fail(rule.fault, rule.retry_after_secs.unwrap_or(1));
            }
        }
        (latency, decision)
    }
}

/// Request counts keyed by (method, route template).
#[derive(Debug, Default)]
pub(crate) struct Counter {
    pub counts: BTreeMap<(String, String), u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_fires_once_and_probability_is_seeded() {
        let cfg = FaultConfig {
            seed: 7,
            latency: None,
            rules: vec![FaultRule {
                method: Some("GET".into()),
                route: Some("/api/folders".into()),
                fault: FaultKind::Status502,
                nth: Some(2),
                probability: None,
                retry_after_secs: None,
            }],
        };
        let mut st = FaultState::new(cfg);
        assert_eq!(st.decide("GET", "/api/folders").1, Decision::Pass);
        assert_eq!(st.decide("POST", "/api/folders").1, Decision::Pass);
        assert_eq!(st.decide("GET", "/api/folders").1, Decision::Fail(FaultKind::Status502, 1));
        assert_eq!(st.decide("GET", "/api/folders").1, Decision::Pass);

        let prob = FaultConfig {
            seed: 42,
            latency: Some(Latency::Uniform { min_ms: 1, max_ms: 50 }),
            rules: vec![FaultRule {
                method: None,
                route: None,
                fault: FaultKind::Status500,
                nth: None,
                probability: Some(0.5),
                retry_after_secs: None,
            }],
        };
        let run = || {
            let mut st = FaultState::new(prob.clone());
            (0..64).map(|_| st.decide("GET", "/x")).map(|(l, d)| (l, d == Decision::Pass)).collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        let fails = a.iter().filter(|(_, pass)| !pass).count();
        assert!(fails > 10 && fails < 54, "{fails}");
    }
}
