use crate::config::Context;

pub fn run(_ctx: &Context) -> anyhow::Result<()> {
    super::not_implemented("doctor")
}
