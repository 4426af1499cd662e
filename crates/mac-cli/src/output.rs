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
