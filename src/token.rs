//! The GitHub token: where it comes from, and a type that never shows it.

use std::fmt;
use std::process::{Command, Stdio};

use anyhow::bail;

use crate::actions;

/// A GitHub token. `Debug` and `Display` hide it; only [`Token::expose`] gives the value, for the
/// `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `--token`, else `GITHUB_TOKEN`, else `GH_TOKEN`, else `gh auth token`. In Actions the value is
/// masked before anything else happens.
pub fn resolve(explicit: Option<&str>) -> anyhow::Result<Token> {
    let found = explicit
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| actions::env_nonempty("GITHUB_TOKEN"))
        .or_else(|| actions::env_nonempty("GH_TOKEN"))
        .or_else(token_from_gh_cli);
    match found {
        Some(value) => {
            let value = value.trim().to_owned();
            actions::add_mask(&value);
            Ok(Token(value))
        }
        None => bail!(
            "no GitHub token: pass --token, set GITHUB_TOKEN (in a workflow: `env: GITHUB_TOKEN: ${{{{ github.token }}}}`), \
             or log in with `gh auth login`"
        ),
    }
}

fn token_from_gh_cli() -> Option<String> {
    let output = Command::new("gh")
        .args(["auth", "token"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let token = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let token = Token::new("ghp_secretvalue");
        assert!(!format!("{token:?}").contains("secret"));
        assert!(!format!("{token}").contains("secret"));
        assert_eq!(token.expose(), "ghp_secretvalue");
    }
}
