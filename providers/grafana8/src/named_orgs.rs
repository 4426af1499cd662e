//! The organisations instances name by name (`org = "Partners"`), by server, for this process:
//! an `organization` of the same server must not rename one of them away in a plan, or every
//! later run of that instance would fail to find its org (or, should another org take the
//! name, act in that one). Instances are built one by one from their settings, before any
//! plan; this is how the organization kind of one instance learns what the others name.

use std::sync::Mutex;

use mac_provider_kit::reqwest::Url;

/// (server's base URL, org name, instance).
static NAMED: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

/// Records that `instance` acts in the org named `name` on the server at `base_url`.
pub(crate) fn record(base_url: &Url, name: &str, instance: &str) {
    let mut named = NAMED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = (base_url.as_str().to_owned(), name.to_owned(), instance.to_owned());
    if !named.contains(&entry) {
        named.push(entry);
    }
}

/// The instances that name the org `name` of the server at `base_url`.
pub(crate) fn instances_naming(base_url: &Url, name: &str) -> Vec<String> {
    let named = NAMED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    named
        .iter()
        .filter(|(server, org, _)| server == base_url.as_str() && org == name)
        .map(|(_, _, instance)| instance.clone())
        .collect()
}
