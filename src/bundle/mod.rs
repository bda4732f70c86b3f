//! A session packed for transport: the archive, its metadata, the path rewrite between machines,
//! the secret scan and the optional encryption.
//!
//! Everything here works on files and on single record lines (raw text), never on a whole
//! session in memory, and knows nothing of GitHub or of the local store's layout:
//! - [`pack`]: the secret scan and the archive of a session as it is uploaded
//! - [`facts`]: what one pass over a session file tells (uuids, records, last fields)
//! - [`archive`]: writes the gzip'd tar of a session (entries relative to the project folder)
//! - [`pargz`]: the parallel gzip under it (blocks compressed on every core, one member each)
//! - [`parlines`]: line-by-line transforms of large files on every core (restore's path rewrite)
//! - [`extract`]: reads such an archive back, hardened against hostile input
//! - [`entries`]: which entries the archive of one session may hold (restore installs no other)
//! - [`metadata`]: the metadata JSON asset (DESIGN.md, "Archive and metadata")
//! - [`rewrite`]: maps the origin machine's paths to local ones inside records
//! - [`content_hash`]: keeps Claude Code's content hashes true after a rewrite
//! - [`secrets`]: finds and redacts secrets in record lines
//! - [`crypt`]: age passphrase encryption of the archive

pub mod archive;
pub mod content_hash;
pub mod crypt;
pub mod delta;
pub mod entries;
pub mod extract;
pub mod facts;
pub mod metadata;
pub mod pack;
pub mod pargz;
pub mod parlines;
pub mod rewrite;
pub mod secrets;

pub use archive::{ArchiveWriter, HashingWriter};
pub use extract::{
    check_room, extract_session, extract_to_temp, max_unpacked_bytes, verify_file, Extracted,
    Limits,
};
pub use metadata::Metadata;
pub use rewrite::PathMap;
pub use secrets::{redact_file, Finding, Scanner};

/// Calls `f` with every line of the file at `src`, its `\n` included (the last line may lack
/// it), streaming with one reused buffer.
pub(crate) fn for_each_line(
    src: &std::path::Path,
    mut f: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::BufRead as _;
    let file =
        std::fs::File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", src.display()))?;
        if read == 0 {
            return Ok(());
        }
        f(&line)?;
    }
}
