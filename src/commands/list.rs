use crate::cli::ListArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &ListArgs) -> anyhow::Result<()> {
    super::not_implemented("release-list")
}
