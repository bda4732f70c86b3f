//! The exit codes of DESIGN.md and the errors that carry them.

/// Exit codes users and scripts rely on (DESIGN.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// Done, or nothing to do.
    Success = 0,
    /// Network, API, I/O or bad data.
    Failure = 1,
    /// Bad usage.
    Usage = 2,
    /// Nothing found (`discover`, `push` with no session, `restore --require`).
    NothingFound = 3,
    /// Local and remote copies conflict.
    Conflict = 4,
    /// Secrets found with `--secrets refuse`.
    SecretsFound = 5,
}

/// An error that ends the command with an exit code other than the generic failure. Raise it with
/// `return Err(Exit::conflict("..").into())`; `anyhow::Context` layers above it keep the code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: Code,
    pub message: String,
    /// The caller asked for a result (`--require`): nothing found is then an `::error::` in
    /// Actions, not the `::notice::` it is otherwise.
    pub required: bool,
}

impl Exit {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Exit {
            code,
            message: message.into(),
            required: false,
        }
    }
    /// Nothing found when the caller required something (`--require`).
    pub fn required_missing(message: impl Into<String>) -> Self {
        Exit {
            required: true,
            ..Self::new(Code::NothingFound, message)
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }
    pub fn nothing_found(message: impl Into<String>) -> Self {
        Self::new(Code::NothingFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Code::Conflict, message)
    }
    pub fn secrets_found(message: impl Into<String>) -> Self {
        Self::new(Code::SecretsFound, message)
    }
}

/// Whether the error is a "nothing found" that the caller did not require (a notice in Actions).
pub fn is_optional_nothing(err: &anyhow::Error) -> bool {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Exit>())
        .is_some_and(|exit| exit.code == Code::NothingFound && !exit.required)
}

/// The exit code for an error: the code of the first [`Exit`] in its chain, else 1.
pub fn code_for(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Exit>())
        .map_or(Code::Failure, |exit| exit.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_survives_context_layers() {
        let err: anyhow::Result<()> = Err(Exit::conflict("diverged").into());
        let err = err.context("pushing").unwrap_err();
        assert_eq!(code_for(&err), Code::Conflict);
    }

    #[test]
    fn plain_errors_are_failures() {
        let err = anyhow::anyhow!("disk full");
        assert_eq!(code_for(&err), Code::Failure);
    }
}
