//! The human view (`--format text`): a header line, then one line per record in fixed-width
//! columns TIME, EVENT, PID, PPID, COMM and a free DETAILS column (README "Human-readable
//! output"). Pure: records in, text out; the only outside input is the local time zone.
//!
//! Columns never merge: each cell is cut to its width (the last character becomes `…`) or
//! padded to it, and one space separates the cells. Only characters a terminal draws one
//! column wide reach a fixed-width cell (escape.rs); colour is put around the padded cell.
mod clock;
mod color;
mod details;
mod escape;
mod human;
mod summary;
#[cfg(test)]
mod tests;

pub use clock::Zone;

use clock::ZoneClock;
use color::{paint, Style};
use escape::escape_narrow;

use crate::output::record::Record;

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Widths: a time of day with microseconds; the longest type (`proc_check`); pids up to the
/// kernel's PID_MAX_LIMIT (4194304, 7 digits); comm up to TASK_COMM_LEN - 1 = 15 bytes.
const TIME: (usize, Align) = (15, Align::Left);
const EVENT: (usize, Align) = (10, Align::Left);
const PID: (usize, Align) = (7, Align::Right);
const COMM: (usize, Align) = (15, Align::Left);

/// Renders records as text lines.
#[derive(Debug)]
pub struct TextRenderer {
    color: bool,
    clock: ZoneClock,
}

/// One line's cells before layout.
struct Row {
    time: String,
    event: &'static str,
    style: Style,
    pid: Option<u32>,
    ppid: Option<u32>,
    comm: Option<String>,
    details: String,
}

impl TextRenderer {
    pub fn new(color: bool, zone: Zone) -> Self {
        TextRenderer {
            color,
            clock: ZoneClock::new(zone),
        }
    }

    /// The header line, with its line end.
    pub fn header(&self) -> String {
        let cells = [
            cell("TIME", TIME),
            cell("EVENT", EVENT),
            cell("PID", PID),
            cell("PPID", PID),
            cell("COMM", COMM),
            "DETAILS".to_owned(),
        ];
        format!("{}\n", paint(self.color, Style::Bold, &cells.join(" ")))
    }

    /// The record's line (the summary's: several), each with its line end.
    pub fn render(&mut self, record: &Record) -> String {
        let row = self.row(record);
        let mut text = self.layout(&row);
        if let Record::Summary(r) = record {
            for line in summary::block(r) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }

    fn row(&mut self, record: &Record) -> Row {
        let time = self.clock.time_of_day(wall_time(record));
        let plain = |event, style, details| Row {
            time: time.clone(),
            event,
            style,
            pid: None,
            ppid: None,
            comm: None,
            details,
        };
        let process = |event, style, pid, ppid, comm: &str, details| Row {
            time: time.clone(),
            event,
            style,
            pid: Some(pid),
            ppid: Some(ppid),
            comm: Some(comm.to_owned()),
            details,
        };
        match record {
            Record::Start(r) => {
                let date = self.clock.date_and_zone(r.time);
                plain("start", Style::Bold, details::start(r, &date))
            }
            Record::Fork(r) => process(
                "fork",
                Style::Blue,
                r.pid,
                r.ppid,
                &r.comm,
                details::fork(r),
            ),
            Record::Exec(r) => process(
                "exec",
                Style::Green,
                r.pid,
                r.ppid,
                &r.comm,
                details::exec(r),
            ),
            Record::Exit(r) => {
                let failed = r.signal.is_some() || r.exit_code != Some(0);
                let style = if failed { Style::Red } else { Style::Plain };
                process("exit", style, r.pid, r.ppid, &r.comm, details::exit(r))
            }
            Record::Zombie(r) => process(
                "zombie",
                Style::Yellow,
                r.pid,
                r.ppid,
                &r.comm,
                details::zombie(r),
            ),
            Record::Reap(r) => process(
                "reap",
                Style::Cyan,
                r.pid,
                r.ppid,
                &r.comm,
                details::reap(r),
            ),
            Record::Lost(r) => plain("lost", Style::Red, details::lost(r.count, &r.causes)),
            Record::ProcCheck(r) => plain("proc_check", Style::Magenta, details::proc_check(r)),
            Record::Summary(r) => plain("summary", Style::Bold, summary::headline(r)),
        }
    }

    fn layout(&self, row: &Row) -> String {
        let number = |n: Option<u32>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let comm = match row.comm.as_deref() {
            None => "-".to_owned(),
            Some("") => "\"\"".to_owned(),
            Some(comm) => escape_narrow(comm),
        };
        let cells = [
            paint(self.color, Style::Dim, &cell(&row.time, TIME)),
            paint(self.color, row.style, &cell(row.event, EVENT)),
            cell(&number(row.pid), PID),
            cell(&number(row.ppid), PID),
            cell(&comm, COMM),
            row.details.clone(),
        ];
        format!("{}\n", cells.join(" "))
    }
}

/// `text` cut or padded to exactly `width` characters (every character reaching here is one
/// column wide: escape.rs).
fn cell(text: &str, (width, align): (usize, Align)) -> String {
    let len = text.chars().count();
    if len > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        return cut;
    }
    match align {
        Align::Left => format!("{text:<width$}"),
        Align::Right => format!("{text:>width$}"),
    }
}

fn wall_time(record: &Record) -> crate::output::record::WallTime {
    match record {
        Record::Start(r) => r.time,
        Record::Fork(r) => r.time,
        Record::Exec(r) => r.time,
        Record::Exit(r) => r.time,
        Record::Lost(r) => r.time,
        Record::Zombie(r) => r.time,
        Record::Reap(r) => r.time,
        Record::ProcCheck(r) => r.time,
        Record::Summary(r) => r.time,
    }
}
