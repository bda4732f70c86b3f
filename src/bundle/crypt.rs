//! Encryption at rest of the archive with age and a passphrase (scrypt recipient), file to file,
//! streaming. The output appears under its final name only once complete and, for decryption,
//! fully authenticated; on any error nothing is left at `dst`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use age::secrecy::SecretString;
use anyhow::{anyhow, bail, Context, Result};

/// scrypt work factor (log2 N) used to encrypt: about a second on a laptop, 256 MiB of memory.
pub const WORK_FACTOR: u8 = 18;

/// The largest work factor accepted when decrypting (1 GiB of memory): a hostile file cannot make
/// restore spend more.
pub const MAX_WORK_FACTOR: u8 = 20;

/// Encrypts `src` into `dst` for `passphrase`.
pub fn encrypt_file(src: &Path, dst: &Path, passphrase: &str) -> Result<()> {
    encrypt_file_with_work_factor(src, dst, passphrase, WORK_FACTOR)
}

/// [`encrypt_file`] with an explicit scrypt work factor (tests use a small one).
pub fn encrypt_file_with_work_factor(
    src: &Path,
    dst: &Path,
    passphrase: &str,
    log_n: u8,
) -> Result<()> {
    let passphrase = checked(passphrase)?;
    let mut recipient = age::scrypt::Recipient::new(passphrase);
    recipient.set_work_factor(log_n);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| anyhow!("cannot set up encryption: {e}"))?;
    let mut input = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    write_atomically(dst, |out| {
        let mut writer = encryptor.wrap_output(out)?;
        io::copy(&mut input, &mut writer)?;
        writer.finish()?.flush()
    })
    .with_context(|| format!("cannot encrypt {} into {}", src.display(), dst.display()))
}

/// The largest age header accepted. A passphrase file's header is about 150 bytes (the version
/// line, one scrypt stanza, the MAC); the age crate's header parser takes time that grows with
/// the square of the header's size (a 1.5 MB stanza took 111 s), so a larger one is refused
/// before it is parsed.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Decrypts `src` into `dst` with `passphrase`.
pub fn decrypt_file(src: &Path, dst: &Path, passphrase: &str) -> Result<()> {
    let passphrase = checked(passphrase)?;
    check_header_size(src)?;
    let input = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
        .map_err(|e| anyhow!("{} is not an age-encrypted file ({e})", src.display()))?;
    if !decryptor.is_scrypt() {
        bail!(
            "{} is not encrypted with a passphrase: ccsync cannot decrypt it",
            src.display()
        );
    }
    let mut identity = age::scrypt::Identity::new(passphrase);
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
            anyhow!("wrong passphrase: the session was encrypted with another CCSYNC_PASSPHRASE")
        }
        age::DecryptError::ExcessiveWork { required, .. } => {
            anyhow!("the encrypted session asks for scrypt work factor {required}, more than the {MAX_WORK_FACTOR} ccsync accepts")
        }
        other => anyhow!("cannot decrypt {}: {other}", src.display()),
    })?;
    write_atomically(dst, |out| {
        io::copy(&mut reader, out)?;
        out.flush()
    })
    .with_context(|| {
        format!(
            "cannot decrypt {}: it is damaged or was tampered with",
            src.display()
        )
    })
}

/// Refuses a file whose age header does not end (a line starting `---`) within
/// [`MAX_HEADER_BYTES`]: reads at most that much.
fn check_header_size(src: &Path) -> Result<()> {
    let file = File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
    let mut head = Vec::with_capacity(MAX_HEADER_BYTES);
    file.take(MAX_HEADER_BYTES as u64 + 1)
        .read_to_end(&mut head)
        .with_context(|| format!("cannot read {}", src.display()))?;
    let ends = head
        .windows(4)
        .take(MAX_HEADER_BYTES.saturating_sub(3))
        .any(|w| w == b"\n---");
    // Anything else is not age at all, which the age crate says at once.
    let is_age = head.starts_with(b"age-encryption.org/");
    if is_age && !ends && head.len() > MAX_HEADER_BYTES {
        bail!(
            "{} is not a session encrypted by ccsync: its age header is larger than {} KiB \
             (a passphrase header is about 150 bytes), so it was refused unread; nothing was installed. \
             Push the session again from a machine that has it",
            src.display(),
            MAX_HEADER_BYTES / 1024
        );
    }
    Ok(())
}

fn checked(passphrase: &str) -> Result<SecretString> {
    if passphrase.is_empty() {
        bail!("no passphrase: set CCSYNC_PASSPHRASE (the action's `passphrase` input) to the one used to push");
    }
    Ok(SecretString::from(passphrase.to_owned()))
}

/// Writes through a temporary file beside `dst`, renamed over `dst` only on success.
fn write_atomically(
    dst: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<()> {
    let parent = dst
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".ccsync-crypt-")
        .tempfile_in(parent)?;
    let mut out = BufWriter::with_capacity(1 << 16, temp.reopen()?);
    write(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    temp.persist(dst).map_err(|e| e.error)?;
    Ok(())
}

/// True when `path` starts like an age file (either encoding), for a clear error when an
/// encrypted asset arrives without its metadata saying so.
pub fn looks_encrypted(path: &Path) -> Result<bool> {
    let mut head = [0u8; 34];
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let n = file.read(&mut head)?;
    Ok(head[..n].starts_with(b"age-encryption.org/")
        || head[..n].starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let plain: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let src = dir.path().join("a.tar.gz");
        std::fs::write(&src, &plain).unwrap();
        (dir, src, plain)
    }

    #[test]
    fn an_oversized_header_is_refused_unparsed() {
        let dir = tempfile::tempdir().unwrap();
        let enc = dir.path().join("a.age");
        let mut bytes = b"age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 10\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'A', 1_500_000));
        bytes.extend_from_slice(b"\n--- AAAA\nrest");
        std::fs::write(&enc, &bytes).unwrap();
        let started = std::time::Instant::now();
        let err = format!(
            "{:#}",
            decrypt_file(&enc, &dir.path().join("out"), "pw").unwrap_err()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(err.contains("age header is larger than 16 KiB"), "{err}");
        assert!(!dir.path().join("out").exists());
    }

    #[test]
    fn round_trip() {
        let (dir, src, plain) = setup();
        let enc = dir.path().join("a.tar.gz.age");
        encrypt_file_with_work_factor(&src, &enc, "correct horse", 10).unwrap();
        assert!(looks_encrypted(&enc).unwrap() && !looks_encrypted(&src).unwrap());
        assert_ne!(std::fs::read(&enc).unwrap()[..64], plain[..64]);
        let back = dir.path().join("back.tar.gz");
        decrypt_file(&enc, &back, "correct horse").unwrap();
        assert_eq!(std::fs::read(&back).unwrap(), plain);
    }

    #[test]
    fn default_work_factor_round_trips() {
        let (dir, src, plain) = setup();
        let enc = dir.path().join("a.age");
        encrypt_file(&src, &enc, "pw").unwrap();
        decrypt_file(&enc, &dir.path().join("b"), "pw").unwrap();
        assert_eq!(std::fs::read(dir.path().join("b")).unwrap(), plain);
    }

    #[test]
    fn wrong_or_missing_passphrase_leaves_nothing() {
        let (dir, src, _) = setup();
        let enc = dir.path().join("a.age");
        encrypt_file_with_work_factor(&src, &enc, "right", 10).unwrap();
        let out = dir.path().join("out");
        let err = format!("{:#}", decrypt_file(&enc, &out, "wrong").unwrap_err());
        assert!(err.contains("wrong passphrase"), "{err}");
        let err = format!("{:#}", decrypt_file(&enc, &out, "").unwrap_err());
        assert!(err.contains("CCSYNC_PASSPHRASE"), "{err}");
        assert!(encrypt_file(&src, &out, "").is_err());
        assert!(!out.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary file left"
        );
    }

    #[test]
    fn damaged_or_plain_input_leaves_nothing() {
        let (dir, src, _) = setup();
        let enc = dir.path().join("a.age");
        encrypt_file_with_work_factor(&src, &enc, "pw", 10).unwrap();
        let mut bytes = std::fs::read(&enc).unwrap();
        let len = bytes.len();
        bytes[len - 100] ^= 1;
        std::fs::write(&enc, &bytes).unwrap();
        let out = dir.path().join("out");
        let err = format!("{:#}", decrypt_file(&enc, &out, "pw").unwrap_err());
        assert!(err.contains("damaged"), "{err}");
        assert!(!out.exists());
        let err = format!("{:#}", decrypt_file(&src, &out, "pw").unwrap_err());
        assert!(err.contains("not an age-encrypted file"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
