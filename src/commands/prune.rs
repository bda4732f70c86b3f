use crate::cli::PruneArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &PruneArgs) -> anyhow::Result<()> {
    super::not_implemented("release-prune")
}
