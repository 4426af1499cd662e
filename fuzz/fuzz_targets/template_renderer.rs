//! Templates and the definitions that use them: a template file and a definitions file
//! (split at the first `\n---\n`), loaded into a library, expanded and checked against the
//! grafana8 and testfs providers' kinds and fields.
#![no_main]

mod common;

use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mac_core::ProjectError;
use mac_core::project::{ProjectConfig, definitions_from_sources};
use mac_core::source::Document;
use mac_core::template::{Library, expand};

const TEMPLATE: &str = "templates/fuzzed.toml";
const DEFINITIONS: &str = "definitions/fuzzed.toml";
const CONFIG: &str = r#"
[providers.grafana8]
url = "http://127.0.0.1:9"
token = { env = "MAC_FUZZ_UNUSED_TOKEN" }
[providers.testfs]
file = "remote.json"
"#;

fuzz_target!(|data: &[u8]| {
    let separator = b"\n---\n";
    let (template, definitions) = match data.windows(separator.len()).position(|window| window == separator) {
        Some(at) => (&data[..at], &data[at + separator.len()..]),
        None => (&data[..0], data),
    };
    let texts = [
        (TEMPLATE, String::from_utf8_lossy(template).into_owned()),
        (DEFINITIONS, String::from_utf8_lossy(definitions).into_owned()),
    ];
    let files: Vec<(&str, &str)> = texts.iter().map(|(path, text)| (*path, text.as_str())).collect();

    let parse = |path: &str, bytes: &[u8]| Document::from_bytes(path, bytes.to_vec());
    let (template, definitions) = match (parse(TEMPLATE, template), parse(DEFINITIONS, definitions)) {
        (Ok(template), Ok(definitions)) => (template, definitions),
        (Err(problem), _) | (_, Err(problem)) => return common::check_located(&[problem], &files),
    };
    let library = match Library::from_documents(vec![template]) {
        Ok(library) => library,
        Err(problems) => return common::check_located(&problems, &files),
    };
    let config = ProjectConfig::from_document(
        Path::new("/nonexistent-project"),
        Document::parse("mac.toml", CONFIG.to_owned()).expect("the fixed mac.toml parses"),
        None,
    )
    .expect("the fixed mac.toml is valid");
    let registry = mac_core::Registry::from_inventory().expect("the linked providers have unique names");
    let providers = config.build_providers(&registry).expect("the fixed providers build");
    let values = serde_json::json!({ "team": "payments", "objective": 0.999 });
    let values = values.as_object().cloned().unwrap_or_default();
    let sources = match expand(&[Arc::clone(&definitions)], &library, &values) {
        Ok(sources) => sources,
        Err(problems) => return common::check_located(&problems, &files),
    };
    match definitions_from_sources(&sources, &providers, ["grafana8", "testfs"], Path::new("/nonexistent-project")) {
        Ok(_) => {}
        Err(ProjectError::Invalid(problems)) => common::check_located(&problems, &files),
        Err(other) => panic!("definitions gave an error without a location: {other}"),
    }
});
