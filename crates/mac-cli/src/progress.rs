//! Progress of a long apply: a bar on a terminal (indicatif), one line per finished action
//! otherwise, so that CI logs show what happened and when.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mac_core::apply::Outcome;
use mac_core::{Action, ApplyObserver};

use crate::render::operation_name;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        let interactive = std::io::stderr().is_terminal() && total > 1;
        let bar = interactive.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl ApplyObserver for Progress {
    fn started(&self, action: &Action) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} {}", operation_name(action.operation), action.id));
        }
    }

    fn finished(&self, action: &Action, outcome: &Outcome) {
        let status = match outcome {
            Outcome::Done => "done",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
        };
        let line = format!("{} {}: {status}", operation_name(action.operation), action.id);
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                if !matches!(outcome, Outcome::Done) {
                    bar.println(line);
                }
            }
            None => eprintln!("{line}"),
        }
    }
}
