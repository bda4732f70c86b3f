use crate::cli::HookArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &HookArgs) -> anyhow::Result<()> {
    super::not_implemented("hook")
}
