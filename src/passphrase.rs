//! The archive passphrase: from the environment (`CCSYNC_PASSPHRASE`), a file
//! (`CCSYNC_PASSPHRASE_FILE`), or asked on the terminal when a stored copy is encrypted and none
//! is set. Every passphrase read is masked in Actions logs.

use crate::ui::Ui;

/// The archive passphrase: `CCSYNC_PASSPHRASE` (the action's `passphrase` input), else the first
/// line of the file `CCSYNC_PASSPHRASE_FILE` names (as age's `--passphrase-file` habits go), if
/// either is set. Encryption never silently stops: a variable that is set but empty (a workflow's
/// `CCSYNC_PASSPHRASE: ${{ secrets.X }}` whose secret is missing), or a file that is empty or
/// cannot be read, is an error, not "no encryption". `doing` names what would have happened
/// without it ("push", "restore").
pub fn from_env(doing: &str) -> anyhow::Result<Option<String>> {
    let passphrase = match std::env::var("CCSYNC_PASSPHRASE") {
        Err(std::env::VarError::NotPresent) => return passphrase_file(doing),
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(crate::exit::Exit::usage(
                "CCSYNC_PASSPHRASE is not valid UTF-8: set it to the passphrase as text",
            )
            .into())
        }
        Ok(passphrase) if passphrase.is_empty() => {
            return Err(crate::exit::Exit::usage(format!(
                "CCSYNC_PASSPHRASE is set but empty (in a workflow: the secret it is set from is missing or \
                 not available to this run): set it to the passphrase, or unset it to {doing} without encryption"
            ))
            .into())
        }
        Ok(passphrase) => passphrase,
    };
    crate::actions::add_mask(&passphrase);
    Ok(Some(passphrase))
}

/// `CCSYNC_PASSPHRASE_FILE`: the passphrase is the file's first line (without its line end).
fn passphrase_file(doing: &str) -> anyhow::Result<Option<String>> {
    let Some(path) = std::env::var_os("CCSYNC_PASSPHRASE_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::exit::Exit::usage(format!(
            "CCSYNC_PASSPHRASE_FILE names {}, which cannot be read as text ({e}): point it at the file \
             holding the passphrase, or unset it to {doing} without encryption",
            path.display()
        ))
    })?;
    let passphrase = text.lines().next().unwrap_or("").to_owned();
    if passphrase.is_empty() {
        return Err(crate::exit::Exit::usage(format!(
            "the passphrase file {} (CCSYNC_PASSPHRASE_FILE) is empty: write the passphrase on its first line",
            path.display()
        ))
        .into());
    }
    crate::actions::add_mask(&passphrase);
    Ok(Some(passphrase))
}

/// The passphrase of an encrypted stored copy when none is set: asked on the terminal (echo off),
/// as age asks; `None` without one (scripts, CI), where the caller's error says what to set.
pub fn prompt(ui: &Ui, session: &str) -> anyhow::Result<Option<String>> {
    use std::io::IsTerminal;
    if ui.in_actions || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(None);
    }
    let passphrase = read_line_without_echo(&format!(
        "session {session} is stored encrypted; passphrase (or set CCSYNC_PASSPHRASE): "
    ))?;
    Ok((!passphrase.is_empty()).then_some(passphrase))
}

/// One line from the terminal on stdin with echo off. Echo goes off before the prompt shows and
/// without flushing the input, so a line typed as soon as the prompt appears is neither echoed
/// nor lost (console's `read_secure_line` prints first, then flushes what was typed).
fn read_line_without_echo(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let stdin = std::io::stdin();
    let fd = stdin.as_raw_fd();
    let mut original = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the termios it is given; it is read only after success.
    if unsafe { libc::tcgetattr(fd, original.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let original = unsafe { original.assume_init() };
    let mut silent = original;
    silent.c_lflag &= !libc::ECHO;
    silent.c_lflag |= libc::ECHONL;
    // SAFETY: a valid termios for the same descriptor.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &silent) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stderr = std::io::stderr();
    let read = stderr
        .write_all(prompt.as_bytes())
        .and_then(|()| stderr.flush())
        .and_then(|()| {
            let mut line = String::new();
            stdin.lock().read_line(&mut line).map(|_| line)
        });
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &original) };
    Ok(read?.trim_end_matches(['\r', '\n']).to_owned())
}
