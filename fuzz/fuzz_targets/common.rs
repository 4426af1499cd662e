//! What every fuzz target checks besides "no panic": each problem reported to the user points
//! at a real place in one of the files it was given, with a message.

use mac_core::source::SourceError;

// Named so that their `inventory::submit!` registrations are linked in.
extern crate mac_provider_grafana8 as _;
extern crate mac_test_provider as _;

/// Panics (a finding) when a problem's location is outside the file it names.
pub fn check_located(problems: &[SourceError], files: &[(&str, &str)]) {
    assert!(!problems.is_empty(), "an error without any problem in it");
    for problem in problems {
        assert!(!problem.message.trim().is_empty(), "a problem without a message at {}", problem.location);
        let Some((_, text)) = files.iter().find(|(path, _)| problem.location.path == std::path::Path::new(path))
        else {
            panic!("a problem in a file that was never read: {problem}");
        };
        let lines = text.split('\n').count().max(1);
        assert!(
            problem.location.line >= 1 && problem.location.line <= lines,
            "{problem}: line {} of a {lines}-line file",
            problem.location.line
        );
        assert!(problem.location.column >= 1, "{problem}: column 0");
    }
}
