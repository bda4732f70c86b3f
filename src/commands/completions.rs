//! `ccsync completions SHELL`: shell completions generated from the command definition.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "ccsync", &mut std::io::stdout());
    Ok(())
}
