//! Line-by-line work on large files on every core, results in input order.
//!
//! The input is cut into blocks of whole lines (about 1 MiB each); worker threads work on a
//! block each (a transform into an output buffer, a scan); the calling thread reads ahead and
//! takes finished blocks in order. At most `2 × threads` blocks are in flight, so memory stays
//! bounded whatever the file's size (a single line longer than a block makes its block that
//! long, no more).
//!
//! Used by restore to rewrite paths in a session file, the one step of a restore that parses
//! every record, and by push to scan a session for secrets before packing it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;

use anyhow::{anyhow, Result};

const BLOCK: usize = 1 << 20;

/// Buffers larger than this (grown by a line longer than a block) are not kept for reuse.
const KEEP_AT_MOST: usize = 4 * BLOCK;

/// Transforms one line (without its `\n`), appending the result and its line ending to `out`.
pub type LineFn<'a> = dyn Fn(&[u8], &mut Vec<u8>) -> Result<()> + Sync + 'a;

/// What a worker does with one block of whole lines.
pub type BlockFn<'a, T> = dyn Fn(&[u8]) -> Result<T> + Sync + 'a;

/// A block and what the worker made of it.
type Reply<T> = (Vec<u8>, Result<T>);

struct Job<T> {
    data: Vec<u8>,
    reply: SyncSender<Reply<T>>,
}

/// Reads `src` to its end, calls `f` on every line (a last line without `\n` included) and writes
/// what it produced, in order, to `dst`. `threads` of 1 works on the calling thread alone.
pub fn map_lines(
    src: impl Read,
    dst: &mut impl Write,
    threads: usize,
    f: &LineFn<'_>,
) -> Result<()> {
    for_each_block(src, threads, &|block| transform(block, f), |_, out| {
        dst.write_all(&out)?;
        Ok(())
    })
}

/// Reads `src` to its end in blocks of whole lines, runs `work` on each block on `threads`
/// threads, and hands every block with its result to `consume` on the calling thread, in input
/// order. An error from either stops the reading. `threads` of 1 works on the calling thread
/// alone.
pub fn for_each_block<T: Send>(
    src: impl Read,
    threads: usize,
    work: &BlockFn<'_, T>,
    mut consume: impl FnMut(&[u8], T) -> Result<()>,
) -> Result<()> {
    let threads = threads.max(1);
    let mut blocks = Blocks::new(src);
    if threads == 1 {
        while let Some(block) = blocks.next()? {
            let done = work(&block)?;
            consume(&block, done)?;
            blocks.recycle(block);
        }
        return Ok(());
    }
    let (jobs, queue) = mpsc::sync_channel::<Job<T>>(threads);
    let queue = Mutex::new(queue);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let queue = &queue;
            scope.spawn(move || loop {
                let job = match queue.lock() {
                    Ok(q) => q.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let done = work(&job.data);
                let _ = job.reply.send((job.data, done));
            });
        }
        let mut pending: VecDeque<Receiver<Reply<T>>> = VecDeque::new();
        let mut hand_over_oldest = |pending: &mut VecDeque<Receiver<Reply<T>>>,
                                    blocks: &mut Blocks<_>| {
            if let Some(answer) = pending.pop_front() {
                let (block, done) = answer
                    .recv()
                    .map_err(|_| anyhow!("a worker thread failed"))?;
                consume(&block, done?)?;
                blocks.recycle(block);
            }
            Ok::<(), anyhow::Error>(())
        };
        let result = (|| {
            while let Some(block) = blocks.next()? {
                while pending.len() >= 2 * threads {
                    hand_over_oldest(&mut pending, &mut blocks)?;
                }
                let (reply, answer) = mpsc::sync_channel(1);
                jobs.send(Job { data: block, reply })
                    .map_err(|_| anyhow!("the worker threads stopped"))?;
                pending.push_back(answer);
            }
            while !pending.is_empty() {
                hand_over_oldest(&mut pending, &mut blocks)?;
            }
            Ok(())
        })();
        // Closing the queue ends the workers; the scope waits for them.
        drop(jobs);
        result
    })
}

/// Where blocks are read from: the source, the start of a line that did not fit in the previous
/// block, and the buffers of blocks already handed over, for reuse. Reusing them keeps the
/// memory in use flat: freeing and allocating a block each time lets the allocator keep freed
/// blocks in its heap (glibc raises its mmap threshold to their size), and the resident size
/// grows with the number of threads that touched them.
struct Blocks<R> {
    src: R,
    carry: Vec<u8>,
    spare: Vec<Vec<u8>>,
}

impl<R: Read> Blocks<R> {
    fn new(src: R) -> Self {
        Blocks {
            src,
            carry: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Takes back the buffer of a block that was handed over (one grown by a very long line
    /// goes, rather than being held to the end).
    fn recycle(&mut self, mut block: Vec<u8>) {
        if block.capacity() <= KEEP_AT_MOST {
            block.clear();
            self.spare.push(block);
        }
    }

    /// The next block of whole lines (the last one may lack its `\n` at the end of input), or
    /// `None`.
    fn next(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut block = self.spare.pop().unwrap_or_default();
        block.extend_from_slice(&self.carry);
        self.carry.clear();
        if self.carry.capacity() > KEEP_AT_MOST {
            self.carry = Vec::new();
        }
        block.reserve(BLOCK.saturating_sub(block.len()));
        // Bytes already known to hold no line end (each byte is searched once, however long a
        // line).
        let mut searched = 0;
        loop {
            // Read until the block is full, then on until a line ends.
            let filled = block.len();
            let want = if filled < BLOCK {
                BLOCK - filled
            } else {
                64 * 1024
            };
            let n = (&mut self.src).take(want as u64).read_to_end(&mut block)?;
            if n == 0 {
                return Ok((!block.is_empty()).then_some(block));
            }
            if block.len() >= BLOCK {
                if let Some(end) = memchr::memrchr(b'\n', &block[searched..]) {
                    let cut = searched + end + 1;
                    self.carry.extend_from_slice(&block[cut..]);
                    block.truncate(cut);
                    return Ok(Some(block));
                }
                searched = block.len();
            }
        }
    }
}

fn transform(block: &[u8], f: &LineFn<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(block.len() + block.len() / 16);
    // memchr finds line ends with SIMD; a byte-wise split showed up in restore profiles.
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        f(&block[start..end], &mut out)?;
        start = end + 1;
    }
    if start < block.len() {
        f(&block[start..], &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper(line: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.extend(line.iter().map(u8::to_ascii_uppercase));
        out.push(b'\n');
        Ok(())
    }

    fn sample() -> Vec<u8> {
        let mut data = Vec::new();
        for n in 0..60_000u32 {
            data.extend_from_slice(
                format!("line {n} {}\n", "x".repeat((n % 97) as usize)).as_bytes(),
            );
        }
        // One line longer than a block, and a last line without its newline.
        data.extend(std::iter::repeat_n(b'y', BLOCK + 10));
        data.extend_from_slice(b"\nlast");
        data
    }

    fn expected(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in data.split_inclusive(|&b| b == b'\n') {
            upper(line.strip_suffix(b"\n").unwrap_or(line), &mut out).unwrap();
        }
        out
    }

    #[test]
    fn any_thread_count_gives_the_serial_result_in_order() {
        let data = sample();
        let want = expected(&data);
        assert!(want.ends_with(b"LAST\n"));
        for threads in [1, 2, 3] {
            let mut out = Vec::new();
            map_lines(&data[..], &mut out, threads, &upper).unwrap();
            assert!(out == want, "threads {threads}");
        }
    }

    #[test]
    fn empty_input_gives_nothing_and_errors_come_back() {
        let mut out = Vec::new();
        map_lines(&b""[..], &mut out, 2, &upper).unwrap();
        assert!(out.is_empty());
        let fail = |line: &[u8], _: &mut Vec<u8>| -> Result<()> {
            if line.starts_with(b"line 50000 ") {
                anyhow::bail!("bad line")
            }
            Ok(())
        };
        let err = map_lines(&sample()[..], &mut Vec::new(), 2, &fail).unwrap_err();
        assert!(err.to_string().contains("bad line"));
    }
}
