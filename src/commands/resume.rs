use crate::cli::ResumeArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &ResumeArgs) -> anyhow::Result<()> {
    super::not_implemented("resume")
}
