use crate::cli::RestoreArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &RestoreArgs) -> anyhow::Result<()> {
    super::not_implemented("release-restore")
}
