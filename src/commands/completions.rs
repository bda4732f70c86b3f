//! `ccsync completions SHELL`: shell completions generated from the command definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    // Into memory first: `generate` panics when a write fails, e.g. into `| head`.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "ccsync", &mut script);
    crate::ui::print_raw(&String::from_utf8_lossy(&script))
}
