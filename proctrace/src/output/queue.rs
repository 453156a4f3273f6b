//! The output queue: records leave the event loop as encoded JSON lines, and a thread of its
//! own writes them to stdout (or the `--output` file, see sink.rs). A reader that stalls
//! (`proctrace | slow-consumer`, a terminal on Ctrl-S, a full log pipe) then stalls that
//! thread only: the event loop keeps draining the ring buffer, polling losses and obeying
//! SIGTERM and `--duration`.
//!
//! The queue holds at most `limit` bytes. A record that does not fit is dropped and counted
//! (reported as `lost.causes.output_queue_full` once there is room again), except the records
//! that explain the others (`start`, `lost`, `proc_check`, `summary`), which always go in: they
//! are few (at most a `lost` every 250 ms) and without them a drop would be silent.
//!
//! Every write the thread makes is whole lines. To a pipe or a socket a piece is at most
//! `PIPE_BUF` bytes, which the kernel writes atomically (pipe(7)): if proctrace has to exit
//! while the reader still stalls, the reader never sees half a line (except of a single line
//! longer than `PIPE_BUF`, which is written alone).
use std::{
    fs::File,
    io,
    os::fd::AsRawFd,
    sync::{Arc, Condvar, Mutex, MutexGuard},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{
    diag,
    output::{format::Encoder, record::Record, sink::Sink, writer::OutputError},
};

/// Pieces written to a regular file or a terminal.
const FILE_PIECE: usize = 64 * 1024;
/// A queue buffer that grew beyond this while the reader stalled is freed, not kept, once
/// written: the memory goes back to the system (see `return_memory`).
const KEEP_CAPACITY: usize = 1 << 20;

pub struct OutputQueue {
    shared: Arc<Shared>,
    limit: usize,
    /// JSON lines or text (`--format`).
    encoder: Encoder,
    /// Records dropped because the queue was full and not reported yet.
    dropped: u64,
    writer: Option<JoinHandle<()>>,
    /// The sink's name, for messages; whether it is a file SIGHUP reopens.
    name: String,
    reopenable: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive or the queue closes.
    more: Condvar,
    /// Signalled when the writer has written everything or gave up.
    idle: Condvar,
}

#[derive(Default)]
struct State {
    /// Lines not yet taken by the writer.
    pending: Vec<u8>,
    /// Bytes (and lines) queued: pending plus taken and not written yet.
    bytes: usize,
    lines: usize,
    closed: bool,
    /// A reopen was asked for when `pending` held this many bytes: those go to the old file,
    /// the rest to the reopened one (see [`OutputQueue::reopen`]).
    reopen_at: Option<usize>,
    /// The writer stopped: everything was written after the close, or a write failed.
    stopped: bool,
    failure: Option<Failure>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// The reader closed the stream (EPIPE).
    ReaderGone,
    Io(io::ErrorKind, Option<i32>),
}

/// How [`OutputQueue::finish`] left stdout.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    /// Everything was written (or the reader had gone, which is not an error).
    Delivered,
    /// The reader did not take everything by the deadline.
    Stalled { lines: usize, bytes: usize },
}

impl OutputQueue {
    /// Starts the writer thread on `out`; `encoder`'s header (the text format's) goes first.
    pub fn start(out: impl Into<Sink>, limit: usize, encoder: Encoder) -> io::Result<Self> {
        let out = out.into();
        let (name, reopenable) = (out.name(), out.is_reopenable());
        let piece = piece_size(out.file());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::with_header(encoder.header())),
            more: Condvar::new(),
            idle: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("proctrace-out".into())
            .spawn(move || write_loop(&theirs, out, piece))?;
        Ok(OutputQueue {
            shared,
            limit,
            encoder,
            dropped: 0,
            writer: Some(writer),
            name,
            reopenable,
        })
    }

    /// What the records go to, for messages: the `--output` path, or `stdout`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks the writer to reopen its file (SIGHUP, after a log rotation) once it has written
    /// every record queued so far; never waits. Returns false when the output is not a file
    /// it can reopen (stdout).
    pub fn reopen(&mut self) -> bool {
        if !self.reopenable {
            return false;
        }
        let mut state = self.shared.lock();
        // Two requests before the writer got to the first are one reopen, at the first.
        if state.reopen_at.is_none() {
            state.reopen_at = Some(state.pending.len());
            // The new file starts like the first one: with the text format's header.
            let header = self.encoder.header();
            state.bytes += header.len();
            state.lines += count_lines(&header);
            state.pending.extend_from_slice(&header);
        }
        drop(state);
        self.shared.more.notify_one();
        true
    }

    /// Queues the records, in order. Fails once the writer failed: with
    /// [`OutputError::BrokenPipe`] when the reader went away.
    pub fn send(&mut self, records: &[Record]) -> Result<(), OutputError> {
        if records.is_empty() {
            return self.failure();
        }
        let mut state = self.shared.lock();
        if let Some(failure) = state.failure {
            return Err(failure.into());
        }
        for record in records {
            let before = state.pending.len();
            let lines = self.encoder.encode(record, &mut state.pending)?;
            let len = state.pending.len() - before;
            if state.bytes + len > self.limit && !always_sent(record) {
                state.pending.truncate(before);
                self.dropped += 1;
                continue;
            }
            state.bytes += len;
            // The text summary is several lines; the writer counts line ends down.
            state.lines += lines;
        }
        drop(state);
        self.shared.more.notify_one();
        Ok(())
    }

    /// Records dropped since the last call, once the queue is at most half full again (so a
    /// `lost` record reporting them is not the first thing dropped next).
    pub fn take_dropped(&mut self) -> u64 {
        if self.dropped == 0 || self.shared.lock().bytes > self.limit / 2 {
            return 0;
        }
        std::mem::take(&mut self.dropped)
    }

    /// Records dropped and not reported, whatever the fill (for the last report at exit).
    pub fn take_dropped_now(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Closes the queue and waits until `deadline` for the writer to write everything.
    pub fn finish(mut self, deadline: Instant) -> Result<Finished, OutputError> {
        self.close_and_wait(deadline)
    }

    fn close_and_wait(&mut self, deadline: Instant) -> Result<Finished, OutputError> {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.more.notify_one();
        while !state.stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The writer may be blocked in write(2) for ever: leave it; the process exit
                // ends it.
                self.writer = None;
                return Ok(Finished::Stalled {
                    lines: state.lines,
                    bytes: state.bytes,
                });
            }
            state = match self.shared.idle.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let failure = state.failure;
        drop(state);
        if let Some(writer) = self.writer.take() {
            // It has stopped; joining only reclaims the thread.
            let _ = writer.join();
        }
        match failure {
            None | Some(Failure::ReaderGone) => Ok(Finished::Delivered),
            Some(failure) => Err(failure.into()),
        }
    }

    fn failure(&self) -> Result<(), OutputError> {
        match self.shared.lock().failure {
            Some(failure) => Err(failure.into()),
            None => Ok(()),
        }
    }
}

/// A session that ends on an error (not through [`OutputQueue::finish`]) still delivers what
/// it queued before, within the same bound as a stop.
impl Drop for OutputQueue {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.close_and_wait(Instant::now() + FINISH_WITHIN);
        }
    }
}

impl State {
    /// Nothing queued but `header` (whole lines, or nothing).
    fn with_header(header: Vec<u8>) -> Self {
        State {
            bytes: header.len(),
            lines: count_lines(&header),
            pending: header,
            ..State::default()
        }
    }
}

/// Counted on every record queued and every piece written: a byte-by-byte count was 12 % of
/// proctrace's CPU in a fork storm; memchr's vectorised search jumps from line end to line end.
fn count_lines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

impl Shared {
    /// The state is a few counters and a buffer: a panic elsewhere cannot leave it
    /// inconsistent, so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl From<Failure> for OutputError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::ReaderGone => OutputError::BrokenPipe,
            Failure::Io(kind, errno) => OutputError::Io(
                errno.map_or_else(|| io::Error::from(kind), io::Error::from_raw_os_error),
            ),
        }
    }
}

/// Records that explain the others are never dropped.
fn always_sent(record: &Record) -> bool {
    matches!(
        record,
        Record::Start(_) | Record::Lost(_) | Record::ProcCheck(_) | Record::Summary(_)
    )
}

/// `PIPE_BUF` for a pipe or a socket, where it makes each write atomic; larger otherwise.
fn piece_size(out: &File) -> usize {
    // SAFETY: fstat writes into the zeroed struct; the descriptor is owned by `out`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { libc::fstat(out.as_raw_fd(), &mut st) } == 0;
    let kind = st.st_mode & libc::S_IFMT;
    if ok && (kind == libc::S_IFIFO || kind == libc::S_IFSOCK) {
        libc::PIPE_BUF
    } else {
        FILE_PIECE
    }
}

fn write_loop(shared: &Shared, mut out: Sink, mut piece: usize) {
    let mut spare = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.pending.is_empty() && !state.closed && state.reopen_at.is_none() {
            state = match shared.more.wait(state) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        let reopen_at = state.reopen_at.take();
        if state.pending.is_empty() && reopen_at.is_none() {
            state.stopped = true;
            drop(state);
            shared.idle.notify_all();
            return;
        }
        let batch = std::mem::replace(&mut state.pending, std::mem::take(&mut spare));
        drop(state);
        if let Err(failure) = write_batch(shared, &mut out, &batch, reopen_at, &mut piece) {
            let mut state = shared.lock();
            state.failure = Some(failure);
            state.stopped = true;
            state.pending = Vec::new();
            drop(state);
            shared.idle.notify_all();
            return;
        }
        spare = reuse_or_return(batch);
    }
}

/// Writes `batch`; with a reopen asked for, the lines queued before the request to the old
/// file and the rest to the reopened one, so that none is lost or written twice across the
/// switch. A failed reopen is reported and the old file kept: the next request tries again.
fn write_batch(
    shared: &Shared,
    out: &mut Sink,
    batch: &[u8],
    reopen_at: Option<usize>,
    piece: &mut usize,
) -> Result<(), Failure> {
    let Some(at) = reopen_at else {
        return write_pieces(shared, out, batch, *piece);
    };
    let (before, after) = batch.split_at(at.min(batch.len()));
    write_pieces(shared, out, before, *piece)?;
    match out.reopen() {
        Ok(()) => *piece = piece_size(out.file()),
        Err(err) => diag::warn!(
            "SIGHUP: cannot reopen {}: {err}; the records still go to the file opened before \
             and the next SIGHUP tries again (check that its directory exists and proctrace \
             may write there)",
            out.name()
        ),
    }
    write_pieces(shared, out, after, *piece)
}

/// Writes `batch` in line-aligned pieces, updating the queued counts after each.
fn write_pieces(
    shared: &Shared,
    out: &mut Sink,
    batch: &[u8],
    piece: usize,
) -> Result<(), Failure> {
    let mut rest = batch;
    while !rest.is_empty() {
        let len = line_aligned(rest, piece);
        let (now, later) = rest.split_at(len);
        out.write_all(now).map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => Failure::ReaderGone,
            kind => Failure::Io(kind, e.raw_os_error()),
        })?;
        let lines = count_lines(now);
        let mut state = shared.lock();
        state.bytes = state.bytes.saturating_sub(len);
        state.lines = state.lines.saturating_sub(lines);
        rest = later;
    }
    Ok(())
}

/// The longest prefix of whole lines within `piece` bytes, or the first line if it is longer.
fn line_aligned(bytes: &[u8], piece: usize) -> usize {
    if bytes.len() <= piece {
        return bytes.len();
    }
    match memchr::memrchr(b'\n', &bytes[..piece]) {
        Some(end) => end + 1,
        None => memchr::memchr(b'\n', bytes).map_or(bytes.len(), |end| end + 1),
    }
}

/// A buffer for the next batch: kept if small; a large one (the reader stalled) is freed and
/// the heap trimmed, so the memory a stall took is given back.
fn reuse_or_return(mut batch: Vec<u8>) -> Vec<u8> {
    if batch.capacity() <= KEEP_CAPACITY {
        batch.clear();
        return batch;
    }
    drop(batch);
    return_memory();
    Vec::new()
}

fn return_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How long [`OutputQueue::finish`] may wait after a stop was asked for: SIGTERM is obeyed
/// within 2 s (README), and the detach and the last drain come first.
pub const FINISH_WITHIN: Duration = Duration::from_millis(1000);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::record::{Clock, ForkRecord, LostCauses, LostRecord, ProcId};

    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors owned by nobody else.
        unsafe {
            (
                <File as std::os::fd::FromRawFd>::from_raw_fd(fds[0]),
                <File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]),
            )
        }
    }

    fn lost(n: u64) -> Record {
        Record::Lost(LostRecord {
            time: Clock::default().wall(0),
            ktime_ns: 0,
            count: n,
            causes: LostCauses {
                ring_buffer_full: n,
                ..LostCauses::default()
            },
        })
    }

    fn fork(pid: u32) -> Record {
        Record::Fork(ForkRecord {
            time: Clock::default().wall(0),
            ktime_ns: 0,
            pid,
            ppid: 1,
            comm: "sh".into(),
            proc_id: ProcId::new(pid, 1),
            parent_proc_id: None,
            uid: 0,
            place: Default::default(),
        })
    }

    #[test]
    fn pieces_are_whole_lines() {
        assert_eq!(line_aligned(b"ab\ncd\nef\n", 7), 6);
        assert_eq!(line_aligned(b"ab\ncd\n", 100), 6);
        assert_eq!(
            line_aligned(b"abcdefgh\nx\n", 4),
            9,
            "a long line goes alone"
        );
        assert_eq!(line_aligned(b"abcdefgh", 4), 8);
    }

    #[test]
    fn a_stalled_reader_blocks_nothing_and_drops_are_counted() {
        let (read, write) = pipe();
        let mut q = OutputQueue::start(write, 256 * 1024, Encoder::Json).expect("start");
        // Far more than the pipe (64 KiB) and the queue hold; nobody reads.
        for pid in 0..20_000 {
            q.send(&[fork(pid)]).expect("send never blocks");
        }
        q.send(&[lost(1)]).expect("a lost record always goes in");
        let dropped = q.take_dropped_now();
        assert!(dropped > 10_000, "dropped {dropped}");
        let start = Instant::now();
        let finished = q
            .finish(Instant::now() + Duration::from_millis(200))
            .expect("finish");
        assert!(start.elapsed() < Duration::from_secs(1));
        let Finished::Stalled { lines, bytes } = finished else {
            panic!("the reader never read: {finished:?}");
        };
        assert!(lines > 0 && bytes > 0 && bytes <= 256 * 1024 + 4096);
        drop(read);
    }

    #[test]
    fn everything_arrives_in_order_as_whole_lines() {
        let (read, write) = pipe();
        let reader = std::thread::spawn(move || io::read_to_string(read).expect("read"));
        let mut q = OutputQueue::start(write, 1 << 20, Encoder::Json).expect("start");
        for pid in 0..2_000 {
            q.send(&[fork(pid)]).expect("send");
        }
        assert_eq!(q.take_dropped(), 0);
        let finished = q.finish(Instant::now() + Duration::from_secs(10));
        assert_eq!(finished.expect("finish"), Finished::Delivered);
        let text = reader.join().expect("reader");
        let pids: Vec<u64> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a whole JSON line");
                v["pid"].as_u64().expect("pid")
            })
            .collect();
        assert_eq!(pids, (0..2_000).collect::<Vec<u64>>());
    }

    #[test]
    fn dropping_the_queue_delivers_what_it_holds() {
        let (read, write) = pipe();
        let reader = std::thread::spawn(move || io::read_to_string(read).expect("read"));
        let mut q = OutputQueue::start(write, 1 << 20, Encoder::Json).expect("start");
        q.send(&[fork(7), fork(8)]).expect("send");
        drop(q);
        assert_eq!(reader.join().expect("reader").lines().count(), 2);
    }

    fn pids_in(path: &std::path::Path) -> Vec<u64> {
        std::fs::read_to_string(path)
            .expect("read")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("a whole JSON line");
                v["pid"].as_u64().expect("pid")
            })
            .collect()
    }

    /// Records queued before the reopen go to the renamed file, the rest to the new one,
    /// whenever the writer gets to them.
    #[test]
    fn a_reopen_splits_the_records_where_it_was_asked_for() {
        let dir = std::env::temp_dir().join(format!("proctrace-queue-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (path, rotated) = (dir.join("out.jsonl"), dir.join("out.jsonl.1"));
        let sink = Sink::open(&path).expect("open");
        let mut q = OutputQueue::start(sink, 1 << 20, Encoder::Json).expect("start");
        assert_eq!(q.name(), path.display().to_string());
        for pid in 0..1_000 {
            q.send(&[fork(pid)]).expect("send");
        }
        std::fs::rename(&path, &rotated).expect("rename");
        assert!(q.reopen(), "a file is reopened");
        for pid in 1_000..2_000 {
            q.send(&[fork(pid)]).expect("send");
        }
        let finished = q.finish(Instant::now() + Duration::from_secs(10));
        assert_eq!(finished.expect("finish"), Finished::Delivered);
        assert_eq!(pids_in(&rotated), (0..1_000).collect::<Vec<u64>>());
        assert_eq!(pids_in(&path), (1_000..2_000).collect::<Vec<u64>>());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// With `--format text` each file starts with the header, the reopened one too.
    #[test]
    fn a_reopened_file_starts_with_the_text_header() {
        use crate::output::text::{TextRenderer, Zone};
        let dir = std::env::temp_dir().join(format!("proctrace-queue-h-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (path, rotated) = (dir.join("out.txt"), dir.join("out.txt.1"));
        let encoder = Encoder::Text(TextRenderer::new(false, Zone::Fixed(0)));
        let header = String::from_utf8(encoder.header()).expect("UTF-8");
        assert!(header.starts_with("TIME"), "{header}");
        let mut q =
            OutputQueue::start(Sink::open(&path).expect("open"), 1 << 20, encoder).expect("start");
        q.send(&[fork(1)]).expect("send");
        std::fs::rename(&path, &rotated).expect("rename");
        assert!(q.reopen());
        q.send(&[fork(2)]).expect("send");
        let finished = q.finish(Instant::now() + Duration::from_secs(10));
        assert_eq!(finished.expect("finish"), Finished::Delivered);
        for (file, pid) in [(&rotated, " 1 "), (&path, " 2 ")] {
            let text = std::fs::read_to_string(file).expect("read");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            assert_eq!(format!("{}\n", lines[0]), header, "{text}");
            assert!(lines[1].contains(pid), "{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stdout_is_not_reopened() {
        let (_read, write) = pipe();
        let mut q = OutputQueue::start(write, 1 << 20, Encoder::Json).expect("start");
        assert!(!q.reopen());
        assert_eq!(q.name(), "stdout");
    }

    #[test]
    fn a_reader_that_leaves_is_a_broken_pipe() {
        let (read, write) = pipe();
        drop(read);
        let mut q = OutputQueue::start(write, 1 << 20, Encoder::Json).expect("start");
        q.send(&[fork(1)]).expect("queued");
        let deadline = Instant::now() + Duration::from_secs(5);
        while q.send(&[]).is_ok() {
            assert!(Instant::now() < deadline, "EPIPE never reported");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(matches!(q.send(&[fork(2)]), Err(OutputError::BrokenPipe)));
        assert_eq!(
            q.finish(Instant::now() + Duration::from_secs(1))
                .expect("a gone reader is no error"),
            Finished::Delivered
        );
    }
}
