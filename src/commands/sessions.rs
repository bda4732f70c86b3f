use crate::cli::SessionsArgs;
use crate::config::Context;

pub fn run(_ctx: &Context, _args: &SessionsArgs) -> anyhow::Result<()> {
    super::not_implemented("sessions")
}
