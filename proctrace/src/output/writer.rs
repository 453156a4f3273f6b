//! Records to bytes: one JSON object per line (JSON Lines). The output queue (queue.rs)
//! writes the lines; Rust ignores SIGPIPE, so a closed reader (`proctrace | head`) shows up
//! as an EPIPE write error, reported as [`OutputError::BrokenPipe`] so the daemon can exit
//! quietly.

use std::io;

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

/// Appends `record` to `buf` as one JSON line. A record that fails to encode leaves `buf` as
/// it was: never half a line.
pub fn encode_line(record: &Record, buf: &mut Vec<u8>) -> Result<(), OutputError> {
    let before = buf.len();
    if let Err(err) = serde_json::to_writer(&mut *buf, record) {
        buf.truncate(before);
        return Err(OutputError::Encode(err));
    }
    buf.push(b'\n');
    Ok(())
}

/// Every record, one line each (tests and the golden replay).
#[cfg(test)]
pub fn encode_all(records: &[Record]) -> String {
    let mut buf = Vec::new();
    for record in records {
        encode_line(record, &mut buf).expect("encode");
    }
    String::from_utf8(buf).expect("UTF-8")
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
            argv0_empty: false,
            old_pid: 10,
            uid: 0,
            euid: Some(0),
            place: Default::default(),
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
        let text = encode_all(&[rec.clone(), rec]);
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
    fn a_lost_record_as_documented() {
        let text = encode_all(&[Record::Lost(LostRecord {
            time: Clock::default().wall(0),
            ktime_ns: 0,
            count: 1,
            causes: LostCauses {
                ring_buffer_full: 1,
                ..LostCauses::default()
            },
        })]);
        assert_eq!(
            text,
            "{\"type\":\"lost\",\"time\":\"1970-01-01T00:00:00.000000000Z\",\"ktime_ns\":0,\"count\":1,\"causes\":{\"ring_buffer_full\":1,\"recursion\":{\"fork\":0,\"exec\":0,\"exit\":0,\"reap\":0,\"wait\":0},\"undecodable\":0,\"output_queue_full\":0,\"dropped\":{\"fork\":0,\"exec\":0,\"exit\":0,\"reap\":0,\"wait\":0},\"kernel_read_failed\":0,\"fork_unpaired\":0}}\n"
        );
    }
}
