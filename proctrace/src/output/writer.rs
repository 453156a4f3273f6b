//! Records to a byte stream: one JSON object per line (JSON Lines), buffered.
//!
//! The daemon writes a batch of records and then calls [`JsonWriter::flush`] (after each batch
//! drained from the ring buffer), so a reader sees records promptly without a syscall per line.
//! Rust ignores SIGPIPE, so a closed reader (`proctrace | head`) shows up as an EPIPE write
//! error: it is reported as [`OutputError::BrokenPipe`] so the daemon can exit quietly.

use std::io::{self, BufWriter, Write};

use crate::output::record::Record;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader closed the stream (EPIPE): stop quietly.
    #[error("output closed by the reader")]
    BrokenPipe,
    // A cause is a source and never also part of the message: an error chain prints each
    // source after its message ("writing output: {0}" printed ENOSPC twice).
    /// The io::Error says it all; the caller says where it was writing.
    #[error(transparent)]
    Io(io::Error),
    #[error("encoding a record")]
    Encode(#[source] serde_json::Error),
}

impl From<io::Error> for OutputError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            OutputError::BrokenPipe
        } else {
            OutputError::Io(e)
        }
    }
}

pub struct JsonWriter<W: Write> {
    out: BufWriter<W>,
    /// One encoded line, reused: a record that fails to encode never leaves half a line.
    line: Vec<u8>,
}

impl<W: Write> JsonWriter<W> {
    pub fn new(inner: W) -> Self {
        Self::with_capacity(64 * 1024, inner)
    }

    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        JsonWriter {
            out: BufWriter::with_capacity(capacity, inner),
            line: Vec::with_capacity(512),
        }
    }

    /// Buffers one record as one line. Call [`JsonWriter::flush`] after a batch.
    pub fn write(&mut self, record: &Record) -> Result<(), OutputError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(OutputError::Encode)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// Buffers every record of a batch, in order.
    pub fn write_all<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<(), OutputError> {
        for r in records {
            self.write(r)?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.out.flush()?;
        Ok(())
    }

    /// What has been flushed so far (tests read the output back).
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }

    /// Flushes and returns the inner writer (tests read the output back).
    #[cfg(test)]
    pub fn into_inner(self) -> Result<W, OutputError> {
        self.out
            .into_inner()
            .map_err(|e| OutputError::from(e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::record::{Clock, ExecRecord, LostCauses, LostRecord};
    use serde_json::Value;

    fn exec_with_argv(argv: Vec<String>) -> Record {
        Record::Exec(ExecRecord {
            time: Clock::default().wall(1),
            ktime_ns: 1,
            pid: 10,
            ppid: 1,
            comm: "we\"ird\n".into(),
            proc_id: crate::output::record::ProcId::new(10, 1),
            filename: "/tmp/a b\\c".into(),
            argv,
            argv_truncated: true,
            argv_read_failed: false,
            filename_truncated: false,
            old_pid: 10,
            uid: 0,
        })
    }

    #[test]
    fn one_line_per_record_with_escapes() {
        let argv: Vec<String> = [
            "line1\nline2",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "bad \u{fffd} utf8",
            "bell\u{7}nul\u{0}esc\u{1b}del\u{7f}",
            "crlf\r\n",
            "\u{2028}ls\u{2029}ps",
            "",
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        let rec = exec_with_argv(argv.clone());
        let mut w = JsonWriter::new(Vec::new());
        w.write(&rec).expect("write");
        w.write(&rec).expect("write");
        w.flush().expect("flush");
        let bytes = w.into_inner().expect("into_inner");
        let text = String::from_utf8(bytes).expect("UTF-8");
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "exactly one line per record: {text:?}");
        for line in lines {
            // No raw control characters inside a line.
            assert!(!line.chars().any(|c| (c as u32) < 0x20), "{line:?}");
            let v: Value = serde_json::from_str(line).expect("one valid JSON object per line");
            assert!(v.is_object());
            let got: Vec<String> = v["argv"]
                .as_array()
                .expect("argv array")
                .iter()
                .map(|a| a.as_str().expect("string").to_string())
                .collect();
            assert_eq!(got, argv, "round trip");
            assert_eq!(v["comm"], "we\"ird\n");
            assert_eq!(v["filename"], "/tmp/a b\\c");
        }
        assert!(text.contains(r#""line1\nline2""#));
        assert!(text.contains(r#""say \"hi\"""#));
        assert!(text.contains(r#""back\\slash""#));
        assert!(text.contains(r#""tab\there""#));
        assert!(text.contains("\"bad \u{fffd} utf8\""));
    }

    #[test]
    fn nothing_reaches_the_inner_writer_before_flush() {
        let mut w = JsonWriter::new(Vec::new());
        w.write(&Record::Lost(LostRecord {
            time: Clock::default().wall(0),
            ktime_ns: 0,
            count: 1,
            causes: LostCauses {
                ring_buffer_full: 1,
                ..LostCauses::default()
            },
        }))
        .expect("write");
        assert!(w.get_ref().is_empty());
        w.flush().expect("flush");
        assert_eq!(
            String::from_utf8_lossy(w.get_ref()),
            "{\"type\":\"lost\",\"time\":\"1970-01-01T00:00:00.000000000Z\",\"ktime_ns\":0,\"count\":1,\"causes\":{\"ring_buffer_full\":1,\"recursion\":{\"fork\":0,\"exec\":0,\"exit\":0,\"reap\":0},\"undecodable\":0,\"dropped\":{\"fork\":0,\"exec\":0,\"exit\":0,\"reap\":0},\"kernel_read_failed\":0,\"fork_unpaired\":0}}\n"
        );
    }

    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn broken_pipe_is_its_own_error() {
        let rec = exec_with_argv(vec!["x".into()]);
        let mut w = JsonWriter::with_capacity(16, Failing(io::ErrorKind::BrokenPipe));
        let err = w.write(&rec).and_then(|()| w.flush()).expect_err("EPIPE");
        assert!(matches!(err, OutputError::BrokenPipe), "{err:?}");

        let mut w = JsonWriter::new(Failing(io::ErrorKind::PermissionDenied));
        w.write(&rec).expect("buffered");
        let err = w.flush().expect_err("EACCES");
        assert!(matches!(err, OutputError::Io(_)), "{err:?}");
        assert!(!matches!(err, OutputError::BrokenPipe));
    }

    #[test]
    fn real_pipe_closed_by_reader_is_broken_pipe() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: closing the read end we own; the write end is owned by `file` below.
        unsafe { libc::close(fds[0]) };
        // SAFETY: fds[1] is a fresh descriptor owned by nobody else.
        let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
        let mut w = JsonWriter::new(file);
        w.write(&exec_with_argv(vec!["x".into()]))
            .expect("buffered");
        let err = w.flush().expect_err("reader gone");
        assert!(matches!(err, OutputError::BrokenPipe), "{err:?}");
    }
}
