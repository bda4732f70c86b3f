use crate::cli::PushArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &PushArgs) -> anyhow::Result<()> {
    super::not_implemented("release-push")
}
