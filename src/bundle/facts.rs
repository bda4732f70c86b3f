//! What one pass over a session file's complete lines tells: its record uuids in order (for the conflict rule),
//! the record count, and the last uuid, timestamp, Claude version and working folder recorded.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::Context;

use crate::store::read_records;
use crate::store::records::complete_lines_len;
use crate::sync::UuidChain;

#[derive(Debug, Default)]
pub struct SessionFacts {
    pub chain: UuidChain,
    pub records: u64,
    /// Complete lines (a record may be glued to another on one line; a blank line is no record).
    pub lines: u64,
    pub last_uuid: Option<String>,
    pub last_timestamp: Option<String>,
    /// The highest Claude Code `version` any record carries.
    pub version: Option<String>,
    pub cwd: Option<String>,
    /// Records of type `progress` (2.1.x): a 2.0.x CLI drops the history around them on resume.
    pub progress_records: u64,
}

/// Streams `path` once. `checkpoint` asks the chain to remember the hash of its first N uuids
/// (the remote copy's count), so a cheap prefix comparison is possible afterwards.
pub fn read_facts(path: &Path, checkpoint: Option<u64>) -> anyhow::Result<SessionFacts> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // The lines push packs: a last line still being written is left for the next push.
    let complete =
        complete_lines_len(&file).with_context(|| format!("cannot read {}", path.display()))?;
    let mut facts = SessionFacts::default();
    if let Some(n) = checkpoint {
        facts.chain = UuidChain::new().with_checkpoint(n);
    }
    let summary = read_records(
        BufReader::with_capacity(256 * 1024, file.take(complete)),
        |record| {
            let fields = record.fields();
            if let Some(uuid) = fields.uuid.as_deref() {
                facts.chain.push(uuid);
                facts.last_uuid = Some(uuid.to_owned());
            }
            if let Some(ts) = fields.timestamp {
                facts.last_timestamp = Some(ts.into_owned());
            }
            if let Some(version) = fields.version {
                // The highest, not the last: a newer CLI may have written part of the session.
                let newer = match facts.version.as_deref() {
                    None => true,
                    Some(known) => {
                        known != version
                            && crate::claude_cli::parse_version(&version)
                                > crate::claude_cli::parse_version(known)
                    }
                };
                if newer {
                    facts.version = Some(version.into_owned());
                }
            }
            if fields.kind.as_deref() == Some("progress") {
                facts.progress_records += 1;
            }
            if let Some(cwd) = fields.cwd {
                facts.cwd = Some(cwd.into_owned());
            }
            Ok(())
        },
    )
    .with_context(|| format!("cannot read {}", path.display()))?;
    facts.records = summary.records;
    facts.lines = summary.lines;
    Ok(facts)
}
