use crate::cli::DiscoverArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &DiscoverArgs) -> anyhow::Result<()> {
    super::not_implemented("discover")
}
