//! `ccsync doctor`: checks, in the order a session travels, everything ccsync needs
//! ([`crate::doctor`]), and says in plain words what is wrong and what to do. One line per check:
//! `ok`, `warn` or `fail`. Exit 0 when nothing failed, 1 otherwise.

use crate::cli::DoctorArgs;
use crate::config::Context;
use crate::doctor::{self, Status};

pub fn run(ctx: &Context, args: &DoctorArgs) -> anyhow::Result<()> {
    let checks = doctor::diagnose(ctx, args.branch.as_deref());
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if ctx.ui.json {
        ctx.ui.print_json(&checks)?;
    } else {
        let mut text = String::new();
        for c in &checks {
            let status = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "fail",
            };
            text.push_str(&format!(
                "{status}  {}: {}\n",
                c.check,
                ctx.ui.safe(&c.message)
            ));
        }
        crate::ui::print_stdout(&text)?;
    }
    if failed > 0 {
        anyhow::bail!(
            "{failed} check{} failed: see the `fail` line{} above",
            if failed == 1 { "" } else { "s" },
            if failed == 1 { "" } else { "s" }
        );
    }
    Ok(())
}
