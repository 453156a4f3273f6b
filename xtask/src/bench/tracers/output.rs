//! Reading what a tracer wrote: its event records, the workload's share of them, and its
//! losses as it reports them.

use std::{
    fs::{self, File},
    io::{BufRead as _, BufReader},
    path::Path,
};

use anyhow::{Context as _, Result};

use super::{Format, Tracer};

/// Substrings that mark a record as belonging to the workload: the workload's command name
/// (`proctrace-workload`, cut to 15 bytes by the kernel) and the program its children exec.
pub const WORKLOAD_MARKERS: [&str; 2] = ["proctrace-workl", "ptw-exec"];

/// Losses, as the tracer reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// Events dropped, counted by the tracer.
    Count(u64),
    /// Overflow notices without a count (forkstat's netlink `nobufs`).
    Overflows(u64),
    /// The tracer has no way to report losses and reported none.
    NotReported,
}

/// What one run of a tracer wrote.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Event records (every process on the host, not only the workload's).
    pub events: u64,
    /// Records that name the workload's processes ([`WORKLOAD_MARKERS`]).
    pub workload_records: u64,
    pub lost: Option<Lost>,
    /// Something is off with the output (no summary line, ...).
    pub problem: Option<String>,
}

/// Reads `out` (and for table tools the losses they report on `err`).
pub fn parse(tracer: &Tracer, out: &Path, err: &Path) -> Result<Parsed> {
    let file = File::open(out).with_context(|| format!("opening {}", out.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut count = Counter::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if text.is_empty() {
            continue;
        }
        count.line(tracer.format, text);
    }
    Ok(count.finish(tracer.format, err))
}

/// The running counts of [`parse`].
#[derive(Default)]
struct Counter {
    parsed: Parsed,
    /// proctrace's summary line.
    last: String,
    /// Non-empty lines.
    lines: u64,
    /// bpftrace's `lost_events` counts.
    lost_count: u64,
    /// forkstat's `nobufs` lines.
    overflows: u64,
}

impl Counter {
    /// One non-empty output line.
    fn line(&mut self, format: Format, text: &str) {
        self.lines += 1;
        let workload = WORKLOAD_MARKERS.iter().any(|m| text.contains(m));
        let parsed = &mut self.parsed;
        match format {
            Format::Proctrace => {
                if text.starts_with("{\"type\":\"summary\"") {
                    self.last = text.to_owned();
                } else if workload {
                    parsed.workload_records += 1;
                }
            }
            Format::BpftraceJson => {
                if text.starts_with("{\"type\": \"printf\"") {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                } else if text.contains("lost_events") {
                    self.lost_count += number_after(text, "\"events\"").unwrap_or(0);
                }
            }
            Format::Table => {
                if self.lines > 1 {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                }
            }
            Format::Forkstat => {
                if text.contains("nobufs") {
                    self.overflows += 1;
                } else if !text.starts_with("Time ") {
                    parsed.events += 1;
                    if workload {
                        parsed.workload_records += 1;
                    }
                }
            }
        }
    }

    /// The losses, once every line is counted.
    fn finish(mut self, format: Format, err: &Path) -> Parsed {
        let parsed = &mut self.parsed;
        match format {
            Format::Proctrace => parse_summary(&self.last, parsed, self.lines),
            Format::BpftraceJson => parsed.lost = Some(Lost::Count(self.lost_count)),
            Format::Table => parsed.lost = Some(stderr_losses(err)),
            Format::Forkstat => {
                parsed.lost = Some(if self.overflows > 0 {
                    Lost::Overflows(self.overflows)
                } else {
                    Lost::NotReported
                });
            }
        }
        self.parsed
    }
}

/// The table tools' `Lost N events` lines on stderr.
fn stderr_losses(err: &Path) -> Lost {
    let stderr = fs::read_to_string(err).unwrap_or_default();
    let reported: Vec<u64> = stderr
        .lines()
        .filter_map(|l| number_after(&l.to_ascii_lowercase(), "lost"))
        .collect();
    if reported.is_empty() {
        Lost::NotReported
    } else {
        Lost::Count(reported.iter().sum())
    }
}

/// proctrace's last line: `{"type":"summary",...,"counts":{...},"lost":N,...}`.
fn parse_summary(line: &str, parsed: &mut Parsed, lines: u64) {
    let summary: Option<serde_json::Value> = serde_json::from_str(line).ok();
    let Some(summary) = summary else {
        parsed.events = lines.saturating_sub(1);
        parsed.problem = Some("no summary line: proctrace did not stop cleanly".into());
        return;
    };
    if let Some(counts) = summary["counts"].as_object() {
        parsed.events = counts
            .iter()
            .filter(|(kind, _)| kind.as_str() != "start")
            .filter_map(|(_, n)| n.as_u64())
            .sum();
    }
    parsed.lost = summary["lost"].as_u64().map(Lost::Count);
}

/// The first number within a few characters after `word` ("Lost 12 events", `"events": 3`).
fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = text.find(word)? + word.len();
    let rest = &text[at..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    if start > 12 {
        return None;
    }
    let digits: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::env;

    use super::{super::all, *};

    fn parse_text(format: Format, out: &str, err: &str) -> Parsed {
        let dir = env::temp_dir().join(format!(
            "xtask-bench-parse-{}-{format:?}-{}",
            std::process::id(),
            out.len()
        ));
        fs::create_dir_all(&dir).unwrap();
        let (o, e) = (dir.join(format!("{format:?}.out")), dir.join("err"));
        fs::write(&o, out).unwrap();
        fs::write(&e, err).unwrap();
        let tracer = all(Path::new("proctrace"), Path::new("x.bt"))
            .into_iter()
            .find(|t| t.format == format)
            .unwrap();
        let parsed = parse(&tracer, &o, &e).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        parsed
    }

    #[test]
    fn proctrace_summary() {
        let p = parse_text(
            Format::Proctrace,
            "{\"type\":\"start\"}\n\
             {\"type\":\"fork\",\"comm\":\"proctrace-workl\"}\n\
             {\"type\":\"summary\",\"counts\":{\"start\":1,\"fork\":5,\"exec\":2,\"exit\":3,\
             \"lost\":0,\"zombie\":0,\"reap\":4},\"lost\":7}\n",
            "",
        );
        assert_eq!(p.events, 14);
        assert_eq!(p.workload_records, 1);
        assert_eq!(p.lost, Some(Lost::Count(7)));
        assert!(p.problem.is_none());

        let p = parse_text(Format::Proctrace, "{\"type\":\"start\"}\n{}\n", "");
        assert!(p.problem.is_some());
    }

    #[test]
    fn bpftrace_json() {
        let p = parse_text(
            Format::BpftraceJson,
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 4}}\n\
             {\"type\": \"printf\", \"data\": \"{\\\"comm\\\":\\\"ptw-exec\\\"}\"}\n\
             {\"type\": \"join\", \"data\": \"ptw-exec\"}\n\
             {\"type\": \"printf\", \"data\": \"{\\\"comm\\\":\\\"bash\\\"}\"}\n\
             {\"type\": \"lost_events\", \"data\": {\"events\": 12}}\n",
            "",
        );
        assert_eq!((p.events, p.workload_records), (2, 1));
        assert_eq!(p.lost, Some(Lost::Count(12)));
    }

    #[test]
    fn tables_and_forkstat() {
        let p = parse_text(
            Format::Table,
            "PCOMM PID\nptw-exec 1\nbash 2\n",
            "Lost 3 events on CPU #0!\nlost 4 events on CPU #1\n",
        );
        assert_eq!((p.events, p.workload_records), (2, 1));
        assert_eq!(p.lost, Some(Lost::Count(7)));
        let p = parse_text(Format::Table, "PCOMM PID\n", "");
        assert_eq!(p.lost, Some(Lost::NotReported));

        let p = parse_text(
            Format::Forkstat,
            "Time     Event   PID Info   Duration Process\n\
             14:35:25 fork  1 parent /x/proctrace-workload exec\n\
             14:35:25 recv ----- nobufs  (No buffer space available)\n",
            "",
        );
        assert_eq!((p.events, p.workload_records), (1, 1));
        assert_eq!(p.lost, Some(Lost::Overflows(1)));
    }

    #[test]
    fn numbers_after_words() {
        assert_eq!(number_after("lost 12 events", "lost"), Some(12));
        assert_eq!(number_after("\"events\": 3}", "events"), Some(3));
        assert_eq!(number_after("lost nothing at all today, 5", "lost"), None);
    }
}
