//! `mac.toml` as anyone may write it: parse, select an environment, build the providers.
#![no_main]

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mac_core::project::{ProjectConfig, ProjectError};

const CONFIG: &str = "mac.toml";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let document = match mac_core::source::Document::from_bytes(CONFIG, data.to_vec()) {
        Ok(document) => document,
        Err(problem) => return common::check_located(&[problem], &[(CONFIG, &text)]),
    };
    let registry = mac_core::Registry::from_inventory().expect("the linked providers have unique names");
    for environment in [None, Some("prod")] {
        let problems = match ProjectConfig::from_document(Path::new("/nonexistent-project"), document.clone(), environment)
            .and_then(|config| config.build_providers(&registry).map(|_| ()))
        {
            Ok(()) => continue,
            Err(ProjectError::Invalid(problems)) => problems,
            // Errors about files (none here) or the file system carry no location to check.
            Err(_) => continue,
        };
        common::check_located(&problems, &[(CONFIG, &text)]);
    }
});
