//! Parallel gzip: a [`Write`] that compresses fixed-size blocks on worker threads and writes them,
//! in order, as concatenated gzip members.
//!
//! A file of several gzip members is standard gzip (RFC 1952, section 2.2): `gzip -d`, `tar -xzf`,
//! Python, Go and flate2's `MultiGzDecoder` read it as one stream. Each block is compressed
//! without the previous block as dictionary, which costs well under 1% of size with 1 MiB blocks
//! (deflate only looks 32 KiB back) and lets every core work on its own block.
//!
//! Memory stays bounded: at most `2 × threads` blocks are in flight, the writer blocks until the
//! oldest is written. The output is deterministic (block boundaries depend only on the byte
//! count, each member has a fixed header), so the same input gives the same bytes on any machine
//! whatever the thread count.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::write::GzEncoder;
use flate2::Compression;

/// Uncompressed bytes per gzip member.
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 20;

/// Worker threads used when the caller does not say: the machine's cores, at most 8 (beyond that,
/// a session archive is limited by the disk and the network, and memory grows per thread).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
}

type Reply = io::Result<Vec<u8>>;

struct Job {
    data: Vec<u8>,
    reply: SyncSender<Reply>,
}

struct Pool {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start(threads: usize, level: Compression) -> io::Result<Pool> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads);
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            let worker = std::thread::Builder::new()
                .name(format!("ccsync-gzip-{n}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, not while compressing.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // The writer may have gone (an error elsewhere): nobody to answer then.
                    let _ = job.reply.send(compress_member(&job.data, level));
                })?;
            workers.push(worker);
        }
        Ok(Pool {
            jobs: Some(jobs),
            workers,
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Closing the queue ends every worker once it finished its block.
        self.jobs.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// One complete gzip member (header, deflate stream, CRC-32 and size trailer) of `data`.
pub fn compress_member(data: &[u8], level: Compression) -> io::Result<Vec<u8>> {
    // Session text compresses 4 to 12 times; start near that to avoid most regrowth.
    let mut encoder = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), level);
    encoder.write_all(data)?;
    encoder.finish()
}

/// Gzip-compresses everything written to it into `W`, one member per block, blocks compressed on
/// worker threads. Call [`ParGzWriter::finish`] to write the last member and get `W` back; dropping
/// the writer instead loses the buffered tail.
pub struct ParGzWriter<W: Write> {
    inner: W,
    level: Compression,
    block_size: usize,
    threads: usize,
    block: Vec<u8>,
    /// Started on the first full block: a small archive never starts a thread.
    pool: Option<Pool>,
    /// Answers of the blocks in flight, oldest first.
    pending: VecDeque<Receiver<Reply>>,
    /// Members written so far.
    members: u64,
}

impl<W: Write> ParGzWriter<W> {
    /// Level `level`, [`DEFAULT_BLOCK_SIZE`] blocks, [`default_threads`] workers.
    pub fn new(inner: W, level: Compression) -> Self {
        Self::with_options(inner, level, DEFAULT_BLOCK_SIZE, default_threads())
    }

    /// `threads` of 1 compresses on the calling thread (same bytes, no threads).
    pub fn with_options(inner: W, level: Compression, block_size: usize, threads: usize) -> Self {
        let block_size = block_size.max(1024);
        ParGzWriter {
            inner,
            level,
            block_size,
            threads: threads.max(1),
            block: Vec::with_capacity(block_size),
            pool: None,
            pending: VecDeque::new(),
            members: 0,
        }
    }

    /// Gzip members written to the inner writer so far.
    pub fn members(&self) -> u64 {
        self.members
    }

    fn submit(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.block, Vec::with_capacity(self.block_size));
        if self.threads == 1 {
            let member = compress_member(&data, self.level)?;
            self.members += 1;
            return self.inner.write_all(&member);
        }
        while self.pending.len() >= 2 * self.threads {
            self.write_oldest()?;
        }
        if self.pool.is_none() {
            self.pool = Some(Pool::start(self.threads, self.level)?);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let jobs = self
            .pool
            .as_ref()
            .and_then(|p| p.jobs.as_ref())
            .expect("the pool is running");
        jobs.send(Job { data, reply })
            .map_err(|_| io::Error::other("the gzip worker threads stopped"))?;
        self.pending.push_back(answer);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(answer) = self.pending.pop_front() else {
            return Ok(());
        };
        let member = answer
            .recv()
            .map_err(|_| io::Error::other("a gzip worker thread failed"))??;
        self.members += 1;
        self.inner.write_all(&member)
    }

    fn drain(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Compresses what is buffered, writes every member and gives the writer back (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        // An empty input still gets one (empty) member: a gzip file has at least one.
        if !self.block.is_empty() || (self.members == 0 && self.pending.is_empty()) {
            self.submit()?;
        }
        self.drain()?;
        self.pool.take();
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.block_size - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == self.block_size {
            self.submit()?;
        }
        Ok(n)
    }

    /// Ends the current member early (callers that flush mid-stream get different, still valid,
    /// block boundaries) and writes everything compressed so far.
    fn flush(&mut self) -> io::Result<()> {
        if !self.block.is_empty() {
            self.submit()?;
        }
        self.drain()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        // Text with some repetition and some noise, like a session.
        let mut out = Vec::with_capacity(len);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut n = 0u64;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            n += 1;
            out.extend_from_slice(
                format!("{{\"n\":{n},\"noise\":\"{x:016x}\",\"text\":\"the same words again\"}}\n")
                    .as_bytes(),
            );
        }
        out.truncate(len);
        out
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn compress(data: &[u8], block: usize, threads: usize, chunk: usize) -> Vec<u8> {
        let mut w = ParGzWriter::with_options(Vec::new(), Compression::new(6), block, threads);
        for piece in data.chunks(chunk.max(1)) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_in_several_members_and_any_thread_count_gives_the_same_bytes() {
        let data = sample(300_000);
        let one = compress(&data, 4096, 1, 777);
        let two = compress(&data, 4096, 2, 10_000);
        let five = compress(&data, 4096, 5, 1);
        assert_eq!(one, two);
        assert_eq!(one, five);
        assert_eq!(gunzip(&two), data);
        // 300,000 / 4096 blocks rounded up, each its own member (a member starts with 1f 8b 08).
        let members = two.windows(3).filter(|w| w == &[0x1f, 0x8b, 0x08]).count();
        assert!(members >= 74, "{members} members");
    }

    #[test]
    fn empty_and_tiny_inputs_are_valid_gzip() {
        for data in [Vec::new(), b"x".to_vec(), sample(1024)] {
            let out = compress(&data, 1 << 20, 2, 100);
            assert_eq!(gunzip(&out), data);
            // A single member reads with the plain decoder too.
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&out[..])
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, data);
        }
    }

    #[test]
    fn large_blocks_cost_little_size_against_one_member() {
        let data = sample(4 << 20);
        let par = compress(&data, DEFAULT_BLOCK_SIZE, 2, 65536);
        let single = compress_member(&data, Compression::new(6)).unwrap();
        assert!(
            (par.len() as f64) < single.len() as f64 * 1.01,
            "{} vs {}",
            par.len(),
            single.len()
        );
    }

    #[test]
    fn flush_writes_everything_so_far() {
        let mut w = ParGzWriter::with_options(Vec::new(), Compression::new(6), 4096, 2);
        w.write_all(b"hello ").unwrap();
        w.flush().unwrap();
        w.write_all(b"world").unwrap();
        let out = w.finish().unwrap();
        assert_eq!(gunzip(&out), b"hello world");
    }
}
