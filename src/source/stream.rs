//! Opening inputs: files (memory-mapped), directories (walked for capture files) and stdin
//! (read in shared blocks). Each input is driven record by record through its format parser.

use super::records::{drive, Driven, ReadOutcome};
use super::{parser_for, Block, Bytes, CaptureParser, Damage, Piece, RawPacket};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Bytes read from a stream at a time.
const BLOCK_SIZE: usize = 4 << 20;
/// Room kept in front of each chunk for the record cut at the end of the previous one.
const HEADROOM: usize = 256 << 10;
/// Stream buffers there may be at once (each `HEADROOM + BLOCK_SIZE` bytes): when all are in
/// use (their packets queued or being worked on), reading waits for one to come back, so a
/// stream's memory does not grow with the queues between readers and workers.
const POOL: usize = 6;
/// File extensions picked up when walking a directory.
const CAPTURE_EXTENSIONS: [&str; 3] = ["pcap", "pcapng", "cap"];

#[derive(Debug, Clone, PartialEq, Eq)]
/// Where an input comes from.
pub enum InputName {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl fmt::Display for InputName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputName::Stdin => f.write_str("<stdin>"),
            InputName::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why an input could not be used at all.
#[derive(Debug)]
pub enum InputError {
    /// It could not be read.
    Io {
        /// The input.
        name: InputName,
        /// Why.
        err: io::Error,
    },
    /// It is not a capture.
    NotCapture {
        /// The input.
        name: InputName,
        /// Its first bytes, to say what it looks like.
        first: Vec<u8>,
    },
    /// It holds nothing.
    Empty {
        /// The input.
        name: InputName,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { name, err } => write!(f, "{name}: {err}"),
            InputError::Empty { name } => write!(f, "{name}: empty file, not a capture"),
            InputError::NotCapture { name, first } => {
                write!(f, "{name}: not a pcap or pcapng capture (starts with")?;
                for b in first {
                    write!(f, " {b:02x}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl std::error::Error for InputError {}

/// A stop flag that is never set, for reading every input to its end.
static NEVER: AtomicBool = AtomicBool::new(false);

enum Body {
    /// The whole input in memory (a mapped file, or bytes handed over).
    Whole(Block),
    Stream(Box<dyn Read + Send>),
}

/// An opened input whose format has been recognised.
pub struct Input {
    /// Which input it is.
    pub name: InputName,
    /// Size in bytes when known (files), for progress reporting.
    pub size: Option<u64>,
    body: Body,
    parser: Box<dyn CaptureParser>,
    /// Bytes already read from a stream while looking at the magic number.
    head: Vec<u8>,
}

/// The inputs the command line names, once expanded.
#[derive(Debug, Default)]
pub struct Collected {
    /// What to read, in order.
    pub names: Vec<InputName>,
    /// Directories that could not be read.
    pub errors: Vec<InputError>,
    /// Files and folders reached again (through a link, or named twice): read once, listed here.
    pub repeated: Vec<PathBuf>,
    /// Captures in a walked folder that are not read (bzip2-compressed ones), to be named.
    pub compressed: Vec<PathBuf>,
}

/// How a compressed capture's name ends: read (`gz`, `zst`, `xz`), or named and passed over.
const READ_COMPRESSED: [&str; 3] = ["gz", "zst", "xz"];

/// Whether a file's name is that of a compressed capture (`x.pcap.gz`, `x.pcapng.zst`, ...)
/// of a kind minetap does not read (bzip2).
fn compressed_capture(p: &Path) -> bool {
    compressed_as(p, &["bz2"])
}

/// Whether a file's name is that of a capture compressed with one of `kinds`.
fn compressed_as(p: &Path, kinds: &[&str]) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    kinds.iter().any(|z| {
        CAPTURE_EXTENSIONS
            .iter()
            .any(|c| lower.ends_with(&format!(".{c}.{z}")))
    })
}

impl Collected {
    /// Whether `p` was reached before (by device and inode); remembers it otherwise.
    fn first_visit(&mut self, p: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> bool {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(p) {
            Ok(m) if !seen.insert((m.dev(), m.ino())) => {
                self.repeated.push(p.to_path_buf());
                false
            }
            _ => true,
        }
    }
}

/// Expands the command-line inputs: `-` is stdin, a directory is walked (sorted, recursively) for
/// `.pcap`, `.pcapng` and `.cap` files, anything else is taken as a file. Every file and folder
/// is followed once, by device and inode, so a link back up (`self -> .`) cannot repeat them.
/// Unreadable directories are returned as errors beside the inputs that were found.
pub fn collect_inputs(args: &[PathBuf]) -> Collected {
    let mut c = Collected::default();
    let mut seen = std::collections::HashSet::new();
    for a in args {
        if a.as_os_str() == "-" {
            c.names.push(InputName::Stdin);
        } else if !c.first_visit(a, &mut seen) {
            continue;
        } else if a.is_dir() {
            walk(a, &mut c, &mut seen);
        } else {
            c.names.push(InputName::Path(a.clone()));
        }
    }
    c
}

fn walk(dir: &Path, c: &mut Collected, seen: &mut std::collections::HashSet<(u64, u64)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(err) => {
            c.errors.push(InputError::Io {
                name: InputName::Path(dir.to_path_buf()),
                err,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let capture = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CAPTURE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if compressed_capture(&p) {
            c.compressed.push(p);
            continue;
        }
        let capture = capture || compressed_as(&p, &READ_COMPRESSED);
        if !(p.is_dir() || capture) || !c.first_visit(&p, seen) {
            continue;
        }
        if p.is_dir() {
            walk(&p, c, seen);
        } else {
            c.names.push(InputName::Path(p));
        }
    }
}

/// A reader that decompresses `f` when it starts with the gzip, zstd or xz magic number, or
/// `None` for anything else (the file is then mapped as it is).
fn decompressing(f: &File) -> io::Result<Option<Box<dyn Read + Send>>> {
    use std::io::{Seek, SeekFrom};
    let mut magic = [0u8; 6];
    let mut g = f;
    let n = g.read(&mut magic)?;
    g.seek(SeekFrom::Start(0))?;
    let file = f.try_clone()?;
    let buffered = io::BufReader::with_capacity(1 << 20, file);
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Some(Box::new(flate2::read::MultiGzDecoder::new(buffered))),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Box::new(zstd::stream::read::Decoder::with_buffer(
            buffered,
        )?)),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => {
            Some(Box::new(xz2::read::XzDecoder::new_multi_decoder(buffered)))
        }
        _ => None,
    })
}

/// An open file as an input's body, its size when mapped, and its first bytes: mapped when it
/// is a regular file, read as a stream (decompressed on the way) otherwise.
fn open_file(f: File) -> io::Result<(Body, Option<u64>, Vec<u8>)> {
    let meta = f.metadata()?;
    if let Some(mut r) = decompressing(&f)? {
        // Compressed: read as a stream, decompressed on the way.
        let head = read_head(&mut r)?;
        return Ok((Body::Stream(r), None, head));
    }
    if meta.is_file() && meta.len() > 0 {
        // SAFETY: the map is read-only; a capture file truncated by another process while
        // mapped is the one case mmap cannot guard, as for any mapped reader.
        let map = unsafe { memmap2::Mmap::map(&f) }?;
        // Read front to back: the kernel may read ahead further and drop pages behind.
        let _ = map.advise(memmap2::Advice::Sequential);
        let head = map[..map.len().min(4)].to_vec();
        return Ok((
            Body::Whole(Arc::new(Bytes::Mapped(map))),
            Some(meta.len()),
            head,
        ));
    }
    let mut r: Box<dyn Read + Send> = Box::new(f);
    let head = read_head(&mut r)?;
    Ok((Body::Stream(r), None, head))
}

/// Standard input as a file, when it is a regular file not yet read from.
fn stdin_file() -> Option<File> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    let mut f = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let regular = f.metadata().ok()?.is_file();
    (regular && f.stream_position().ok()? == 0).then_some(f)
}

/// Asks for a larger pipe when standard input is one (fewer, larger reads; the writer blocks
/// less often). Advice only: a kernel that refuses keeps its size.
fn widen_pipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on descriptor 0 with an integer argument; it fails harmlessly on a
    // descriptor that is not a pipe.
    unsafe {
        libc::fcntl(0, libc::F_SETPIPE_SZ, 1 << 20);
    }
}

/// Opens an input and recognises its format from the magic number; a gzip, zstd or xz file is
/// decompressed as it is read.
pub fn open_input(name: InputName) -> Result<Input, InputError> {
    let io_err = |name: &InputName, err| InputError::Io {
        name: name.clone(),
        err,
    };
    let (body, size, head) = match &name {
        InputName::Stdin => match stdin_file() {
            // Standard input redirected from a file (`< capture.pcap`): read as that file.
            Some(f) => open_file(f).map_err(|e| io_err(&name, e))?,
            None => {
                widen_pipe();
                let mut r: Box<dyn Read + Send> = Box::new(io::stdin());
                let head = read_head(&mut r).map_err(|e| io_err(&name, e))?;
                (Body::Stream(r), None, head)
            }
        },
        InputName::Path(p) => {
            let f = File::open(p).map_err(|e| io_err(&name, e))?;
            open_file(f).map_err(|e| io_err(&name, e))?
        }
    };
    recognised(name, (body, size, head))
}

/// An input read as a stream from `r` (as standard input is): in blocks, never mapped.
pub fn open_stream(name: InputName, mut r: Box<dyn Read + Send>) -> Result<Input, InputError> {
    let head = read_head(&mut r).map_err(|err| InputError::Io {
        name: name.clone(),
        err,
    })?;
    recognised(name, (Body::Stream(r), None, head))
}

/// The input whose body, size and first bytes are given, once its format is recognised from
/// those bytes (a stream keeps them, to be read first).
fn recognised(
    name: InputName,
    (body, size, head): (Body, Option<u64>, Vec<u8>),
) -> Result<Input, InputError> {
    if head.is_empty() {
        return Err(InputError::Empty { name });
    }
    let parser = parser_for(&head).ok_or_else(|| InputError::NotCapture {
        name: name.clone(),
        first: head.clone(),
    })?;
    let head = match body {
        Body::Whole(_) => Vec::new(),
        Body::Stream(_) => head,
    };
    Ok(Input {
        name,
        size,
        body,
        parser,
        head,
    })
}

/// An input over bytes already in memory (tests, fuzzing).
pub fn open_bytes(name: InputName, bytes: Vec<u8>) -> Result<Input, InputError> {
    let head = bytes[..bytes.len().min(4)].to_vec();
    let size = Some(bytes.len() as u64);
    recognised(
        name,
        (Body::Whole(Arc::new(Bytes::Owned(bytes))), size, head),
    )
}

fn read_head(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; 4];
    let n = fill(r, &mut head)?;
    head.truncate(n);
    Ok(head)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Input {
    /// Reads every packet, calling `f` with the block the packet's bytes live in.
    /// A read error or damaged record ends the input with `damage` set; the packets before it
    /// have been delivered.
    pub fn run(&mut self, f: impl FnMut(&Block, RawPacket<'_>)) -> ReadOutcome {
        self.run_until(&NEVER, f)
    }

    /// As [`Input::run`], stopping (with `interrupted` set) soon after `stop` is set.
    pub fn run_until(
        &mut self,
        stop: &AtomicBool,
        mut f: impl FnMut(&Block, RawPacket<'_>),
    ) -> ReadOutcome {
        let parser = &mut *self.parser;
        match &mut self.body {
            Body::Whole(block) => {
                let d = drive(parser, block, (0, 0, block.len()), true, stop, &mut f);
                let read = d.pos as u64;
                d.outcome(read)
            }
            Body::Stream(r) => run_stream(
                &mut **r,
                std::mem::take(&mut self.head),
                &mut |block, base, last| {
                    drive(parser, block, (0, base, block.len()), last, stop, &mut f)
                },
            ),
        }
    }

    /// Cuts the input into pieces of about `size` bytes, in order, for readers that parse
    /// them at once (see [`Piece`]). What is damaged in a piece its reader finds; what the
    /// cutting found (a stream's damage or read error) is in the outcome.
    pub fn cut(
        &mut self,
        size: usize,
        stop: &AtomicBool,
        emit: &mut dyn FnMut(Piece),
    ) -> ReadOutcome {
        let parser = &mut *self.parser;
        match &mut self.body {
            Body::Whole(block) => {
                super::pieces::cut_whole(block, parser, size, emit);
                ReadOutcome {
                    bytes: block.len() as u64,
                    ..ReadOutcome::default()
                }
            }
            Body::Stream(r) => run_stream(
                &mut **r,
                std::mem::take(&mut self.head),
                &mut |block, base, last| {
                    // Only framed here: where the block's last whole record ends.
                    let from = parser.fork();
                    let d = drive(
                        parser,
                        block,
                        (0, base, block.len()),
                        last,
                        stop,
                        &mut |_, _| {},
                    );
                    if d.pos > 0 {
                        emit(Piece::new(block.clone(), 0..d.pos, base, from));
                    }
                    d
                },
            ),
        }
    }
}

/// Reads a stream in blocks and hands each to `on_block` (with its offset in the stream and
/// whether it is the last), which says how far it got; the rest is carried into the next block.
fn run_stream(
    r: &mut (dyn Read + Send),
    head: Vec<u8>,
    on_block: &mut dyn FnMut(&Block, u64, bool) -> Driven,
) -> ReadOutcome {
    // One thread reads the stream ahead while this one parses. Chunks are read `HEADROOM`
    // bytes into their buffer, so that the tail of the previous block (a record cut by the
    // block boundary) can be put in front of them without copying the chunk.
    // The pool starts with POOL empty buffers (nothing allocated yet) and only ever holds those.
    let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Vec<u8>>(POOL);
    for _ in 0..POOL {
        let _ = pool_tx.try_send(Vec::new());
    }
    std::thread::scope(|s| {
        let (tx, rx) = crossbeam_channel::bounded::<io::Result<Vec<u8>>>(2);
        // Dropped when this function returns: a reader waiting for a buffer then stops.
        let (_done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let reader_pool = pool_rx.clone();
        s.spawn(move || loop {
            let mut chunk = crossbeam_channel::select! {
                recv(reader_pool) -> chunk => match chunk {
                    Ok(chunk) => chunk,
                    Err(_) => return,
                },
                recv(done_rx) -> _ => return,
            };
            chunk.resize(HEADROOM + BLOCK_SIZE, 0);
            match fill(r, &mut chunk[HEADROOM..]) {
                Ok(n) => {
                    chunk.truncate(HEADROOM + n);
                    if tx.send(Ok(chunk)).is_err() || n < BLOCK_SIZE {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        let mut carry = head;
        let mut base: u64 = 0; // stream offset of the block's first byte
        loop {
            // A chunk shorter than a block is the reader's last.
            let (mut chunk, read_error) = match rx.recv() {
                Ok(Ok(chunk)) => (chunk, None),
                Ok(Err(e)) => (vec![0; HEADROOM], Some(e)),
                Err(_) => (vec![0; HEADROOM], None),
            };
            let last = chunk.len() - HEADROOM < BLOCK_SIZE;
            let bytes = if carry.len() <= HEADROOM {
                let start = HEADROOM - carry.len();
                chunk[start..HEADROOM].copy_from_slice(&carry);
                Bytes::Pooled(super::PooledBuf::new(chunk, start, pool_tx.clone()))
            } else {
                carry.extend_from_slice(&chunk[HEADROOM..]);
                let _ = pool_tx.try_send(chunk);
                Bytes::Owned(std::mem::take(&mut carry))
            };
            let filled = bytes.len();
            let block: Block = Arc::new(bytes);
            let Driven {
                pos,
                mut damage,
                stopped,
            } = on_block(&block, base, last);
            if stopped {
                return ReadOutcome {
                    bytes: base + pos as u64,
                    damage: None,
                    interrupted: true,
                };
            }
            if let Some(e) = read_error {
                damage.get_or_insert(Damage {
                    offset: base + filled as u64,
                    reason: format!("read error: {e}"),
                });
            }
            if damage.is_some() || last {
                return ReadOutcome {
                    bytes: base + filled as u64,
                    damage,
                    interrupted: false,
                };
            }
            carry.clear();
            carry.extend_from_slice(&block[pos..]);
            base += pos as u64;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::records::TRUNCATED;
    use synth::capture::{Format, Frame, L2};

    /// Reads `bytes` through the stream path; returns (packets, sum of packet lengths, damage).
    fn via_stream(bytes: &[u8]) -> (u64, u64, Option<Damage>) {
        let mut input = open_bytes(InputName::Stdin, bytes.to_vec()).unwrap();
        let mut cursor = std::io::Cursor::new(bytes.to_vec());
        let (mut n, mut sum) = (0, 0);
        let parser = &mut *input.parser;
        let mut f = |_: &Block, p: RawPacket<'_>| {
            n += 1;
            sum += p.data.len() as u64;
        };
        let out = run_stream(&mut cursor, Vec::new(), &mut |block, base, last| {
            drive(parser, block, (0, base, block.len()), last, &NEVER, &mut f)
        });
        (n, sum, out.damage)
    }

    #[test]
    fn a_stream_reuses_its_buffers_while_packets_hold_some() {
        // 10 blocks' worth of packets; the consumer keeps the last 5 blocks alive, as packets
        // queued for the workers do. Reading finishes, and no more than POOL buffers are made.
        let frames: Vec<Frame> = (0..28_000)
            .map(|i| Frame {
                ts_ns: i as u64,
                l2: L2::Ethernet,
                data: vec![(i % 251) as u8; 1500],
            })
            .collect();
        let bytes = Format::Pcap.write(&frames);
        assert!(bytes.len() > 10 * BLOCK_SIZE);
        let mut input = open_bytes(InputName::Stdin, bytes.clone()).unwrap();
        let mut cursor = std::io::Cursor::new(bytes);
        let parser = &mut *input.parser;
        let (mut held, mut buffers) = (std::collections::VecDeque::new(), Vec::new());
        let mut n = 0;
        let out = run_stream(&mut cursor, Vec::new(), &mut |block, base, last| {
            let at = match &**block {
                Bytes::Pooled(p) => p.buf.as_ptr() as usize,
                _ => 0,
            };
            if !buffers.contains(&at) {
                buffers.push(at);
            }
            held.push_back(block.clone());
            if held.len() > 5 {
                held.pop_front();
            }
            drive(
                parser,
                block,
                (0, base, block.len()),
                last,
                &NEVER,
                &mut |_, _| n += 1,
            )
        });
        assert_eq!((n, out.damage), (28_000, None));
        assert!(
            buffers.len() <= POOL,
            "{} distinct buffers for {POOL} in the pool",
            buffers.len()
        );
    }

    #[test]
    fn records_across_block_boundaries_small_and_huge() {
        // Packets of many sizes, some larger than the headroom kept in front of each block.
        let sizes = [60usize, 1514, 9000, 300_000, 70, 600_000];
        let frames: Vec<Frame> = (0..90)
            .map(|i| Frame {
                ts_ns: i as u64,
                l2: L2::Ethernet,
                data: vec![(i % 251) as u8; sizes[i % sizes.len()]],
            })
            .collect();
        let bytes = Format::Pcapng.write(&frames);
        assert!(bytes.len() > 3 * BLOCK_SIZE);
        let want: u64 = frames.iter().map(|f| f.data.len() as u64).sum();
        assert_eq!(via_stream(&bytes), (90, want, None));
        // The same with the stream cut short inside a record.
        let (n, _, damage) = via_stream(&bytes[..bytes.len() - 100]);
        assert_eq!(n, 89);
        assert_eq!(damage.map(|d| d.reason), Some(TRUNCATED.to_string()));
    }
}
