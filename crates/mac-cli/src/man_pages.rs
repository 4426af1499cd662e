//! `mac man --out DIR`: one man page per command and subcommand (`mac.1`, `mac-plan.1`,
//! `mac-state-list.1`, …), rendered by clap_mangen from the clap definition. The command tree
//! is walked, so a subcommand added later gets its page without a change here; hidden
//! commands get none.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory};

use crate::args::Cli;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (made if missing; pages there are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub(crate) fn write(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let pages = pages();
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    for page in &pages {
        let path = args.out.join(&page.file_name);
        std::fs::write(&path, &page.roff).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let names: Vec<&str> = pages.iter().map(|page| page.file_name.as_str()).collect();
    let mut out = crate::output::stdout();
    std::io::Write::write_fmt(
        &mut out,
        format_args!("Wrote {} man pages to {}: {}\n", pages.len(), args.out.display(), names.join(", ")),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A rendered page and the file it goes to (`mac-state-list.1`).
struct Page {
    file_name: String,
    roff: Vec<u8>,
}

/// Every visible command's page, the root's first, then depth first in the order of `--help`.
fn pages() -> Vec<Page> {
    // `mac help` is clap's own and documented by every page's SUBCOMMANDS; it gets no page.
    let mut root = Cli::command().disable_help_subcommand(true);
    // Building gives each subcommand its display name (`mac-state-list`), which names its page.
    root.build();
    let mut pages = Vec::new();
    collect(&root, &mut pages);
    pages
}

fn collect(command: &clap::Command, pages: &mut Vec<Page>) {
    let version = command.get_version().unwrap_or_default();
    // The page's footer names the program, not the subcommand (`unlock 0.1.0`).
    let man = clap_mangen::Man::new(command.clone()).source(format!("mac {version}"));
    let mut rendered = Vec::new();
    // Rendering into memory cannot fail.
    man.render(&mut rendered).expect("rendering a man page into a Vec");
    let roff = ascii_only(&String::from_utf8_lossy(&rendered));
    pages.push(Page { file_name: man.get_filename(), roff: roff.into_bytes() });
    for subcommand in command.get_subcommands().filter(|subcommand| !subcommand.is_hide_set()) {
        collect(subcommand, pages);
    }
}

/// `roff` with every character outside ASCII written as groff's `\[uXXXX]`: the help texts'
/// dashes and ellipses are UTF-8, which groff without preconv (and older roffs) misreads.
fn ascii_only(roff: &str) -> String {
    let mut escaped = String::with_capacity(roff.len());
    for character in roff.chars() {
        if character.is_ascii() {
            escaped.push(character);
        } else {
            escaped.push_str(&format!("\\[u{:04X}]", u32::from(character)));
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::{ascii_only, pages};

    #[test]
    fn characters_outside_ascii_become_groff_escapes() {
        assert_eq!(ascii_only("time — never …"), "time \\[u2014] never \\[u2026]");
    }

    #[test]
    fn every_command_and_state_subcommand_has_a_page_named_after_it() {
        let names: Vec<String> = pages().into_iter().map(|page| page.file_name).collect();
        for expected in ["mac.1", "mac-plan.1", "mac-apply.1", "mac-state.1", "mac-state-list.1", "mac-state-unlock.1"]
        {
            assert!(names.iter().any(|name| name == expected), "{expected} missing from {names:?}");
        }
        assert!(!names.iter().any(|name| name.contains("help")), "clap's help command gets no page: {names:?}");
    }
}
