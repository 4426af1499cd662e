//! Standard output, and the colour choice for it and for stderr.

use std::io::{self, Write};

/// When to colour: `--color auto|always|never` (`--no-color` is `never`). `auto` colours a
/// terminal unless `NO_COLOR` is set; a flag given on the command line wins over the
/// environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

impl Color {
    pub(crate) fn of(flag: &str, no_color: bool) -> Color {
        match (flag, no_color) {
            (_, true) | ("never", _) => Color::Never,
            ("always", _) => Color::Always,
            _ => Color::Auto,
        }
    }

    /// Makes it the choice of every stream written through `anstream` (stdout, error reports).
    pub(crate) fn apply(self) {
        let choice = match self {
            Color::Auto => anstream::ColorChoice::Auto,
            Color::Always => anstream::ColorChoice::Always,
            Color::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }

    /// Whether log lines on stderr are coloured.
    pub(crate) fn for_stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// Standard output that a reader going away (`mac plan | head -1`) ends quietly: once the pipe
/// is closed, what is written is dropped, and the command goes on to its end — a saved plan
/// is still saved, an apply still records what it did — and exits with its own status.
pub(crate) struct Stdout {
    inner: anstream::AutoStream<io::Stdout>,
    closed: bool,
}

pub(crate) fn stdout() -> Stdout {
    Stdout { inner: anstream::stdout(), closed: false }
}

impl Stdout {
    fn quietly<T>(&mut self, done: T, result: io::Result<T>) -> io::Result<T> {
        match result {
            Err(err) if err.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buffer.len());
        }
        let result = self.inner.write(buffer);
        self.quietly(buffer.len(), result)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.quietly((), result)
    }
}

/// An error under `--json`: one JSON object on stdout, the schema in docs/json-output.md
/// ("Errors"), so that whoever reads the JSON reads failures too.
#[derive(Debug, serde::Serialize)]
pub(crate) struct JsonError {
    format_version: u32,
    error: JsonErrorBody,
}

#[derive(Debug, serde::Serialize)]
struct JsonErrorBody {
    /// `usage` (the command line), `invalid` (the project: `problems` says where) or `failed`.
    kind: &'static str,
    /// The whole error, as the human output's `error:` line says it.
    message: String,
    /// Each problem at the place it was written (empty unless `kind` is `invalid`).
    problems: Vec<JsonProblem>,
}

#[derive(Debug, serde::Serialize)]
struct JsonProblem {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

impl JsonError {
    /// A command line clap refused, as clap says it (without colours).
    pub(crate) fn usage(rendered: &str) -> JsonError {
        // Clap's first paragraph; the rest points at `--help`.
        let first = rendered.split("\n\n").next().unwrap_or(rendered);
        let message = first.trim_end().trim_start_matches("error: ").to_owned();
        JsonError { format_version: 1, error: JsonErrorBody { kind: "usage", message, problems: Vec::new() } }
    }

    pub(crate) fn of(err: &anyhow::Error) -> JsonError {
        let located = err.chain().find_map(|cause| match cause.downcast_ref::<mac_core::ProjectError>() {
            Some(mac_core::ProjectError::Invalid(problems)) => Some(problems.clone()),
            _ => cause.downcast_ref::<mac_core::SourceError>().map(|problem| vec![problem.clone()]),
        });
        let problems: Vec<JsonProblem> = located
            .unwrap_or_default()
            .into_iter()
            .map(|problem| JsonProblem {
                file: problem.location.path.display().to_string(),
                line: problem.location.line,
                column: problem.location.column,
                message: problem.message,
            })
            .collect();
        let kind = if problems.is_empty() { "failed" } else { "invalid" };
        JsonError {
            format_version: 1,
            error: JsonErrorBody { kind, message: mac_core::apply::error_chain(err.as_ref()), problems },
        }
    }
}

/// Writes `error` as one line of JSON on stdout (a reader that went away is no error).
pub(crate) fn write_json_error(error: &JsonError) {
    let text = serde_json::to_string(error).unwrap_or_else(|_| {
        r#"{"format_version":1,"error":{"kind":"failed","message":"(unprintable)","problems":[]}}"#.to_owned()
    });
    let _ = writeln!(stdout(), "{text}");
}
