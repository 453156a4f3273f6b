//! `--format` and `--color`: how records become bytes (README "Human-readable output").
use std::os::fd::AsRawFd;

use clap::CommandFactory as _;

use crate::output::{
    record::Record,
    text::{TextRenderer, Zone},
    writer::{encode_line, OutputError},
};

/// The output flags, flattened into the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArgs {
    /// How records are written: `json`, one JSON object per line (the stable interface for
    /// programs), or `text`, aligned columns for people (e.g. `--format text`).
    #[arg(long, value_enum, default_value_t = Format::Json, help_heading = "Output")]
    pub format: Format,

    /// Colour in `--format text`, by default `auto`: when stdout is a terminal and NO_COLOR is not set,
    /// `always`, or `never` (e.g. `--format text --color always | less -R`).
    #[arg(long, value_enum, value_name = "WHEN", help_heading = "Output")]
    pub color: Option<ColorWhen>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl FormatArgs {
    /// `--color` colours text only: with JSON it is a mistake worth saying.
    pub fn validate(&self) -> Result<(), clap::Error> {
        if self.format == Format::Json && self.color.is_some() {
            return Err(crate::cli::Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--color applies to --format text only: add --format text, or leave --color out",
            ));
        }
        Ok(())
    }

    /// The encoder for records written to `out`.
    pub fn encoder(&self, out: &impl AsRawFd) -> Encoder {
        match self.format {
            Format::Json => Encoder::Json,
            Format::Text => {
                let color = wants_color(
                    self.color.unwrap_or(ColorWhen::Auto),
                    is_terminal(out),
                    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
                );
                Encoder::Text(TextRenderer::new(color, Zone::Local))
            }
        }
    }
}

/// `auto` colours a terminal unless NO_COLOR is set to anything but "" (no-color.org); an
/// explicit `always` wins over NO_COLOR.
fn wants_color(when: ColorWhen, terminal: bool, no_color: bool) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => terminal && !no_color,
    }
}

fn is_terminal(out: &impl AsRawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor, which `out` keeps open.
    unsafe { libc::isatty(out.as_raw_fd()) == 1 }
}

/// Records to bytes, in the output queue.
#[derive(Debug, Default)]
pub enum Encoder {
    #[default]
    Json,
    Text(TextRenderer),
}

impl Encoder {
    /// What precedes the first record: the text header line.
    pub fn header(&self) -> Vec<u8> {
        match self {
            Encoder::Json => Vec::new(),
            Encoder::Text(text) => text.header().into_bytes(),
        }
    }

    /// Appends `record` as whole lines to `buf` (the text summary is several lines) and
    /// returns how many: the queue counts lines, and JSON needs no scan for them (compact
    /// serde_json escapes every newline inside a string).
    pub fn encode(&mut self, record: &Record, buf: &mut Vec<u8>) -> Result<usize, OutputError> {
        match self {
            Encoder::Json => encode_line(record, buf).map(|()| 1),
            Encoder::Text(text) => {
                let rendered = text.render(record);
                buf.extend_from_slice(rendered.as_bytes());
                Ok(memchr::memchr_iter(b'\n', rendered.as_bytes()).count())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use clap::Parser as _;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let args = Args::try_parse_from(std::iter::once("proctrace").chain(args.iter().copied()))?;
        args.validate()?;
        Ok(args)
    }

    #[test]
    fn json_is_the_default_and_color_needs_text() {
        let args = parse(&[]).expect("no flags");
        assert_eq!(args.format.format, Format::Json);
        assert!(matches!(
            args.format.encoder(&std::io::stdout()),
            Encoder::Json
        ));
        let args = parse(&["--format", "text", "--color", "never"]).expect("text");
        assert_eq!(args.format.format, Format::Text);
        assert_eq!(args.format.color, Some(ColorWhen::Never));
        let err = parse(&["--color", "always"]).expect_err("colour for JSON");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("add --format text"), "{err}");
        for bad in [
            &["--format", "yaml"][..],
            &["--format", "text", "--color", "yes"],
        ] {
            assert_eq!(parse(bad).expect_err("bad value").exit_code(), 2, "{bad:?}");
        }
    }

    /// Through the output queue: the header first, then each record's line.
    #[test]
    fn the_queue_writes_the_header_then_the_lines() {
        use crate::output::{
            queue::{Finished, OutputQueue},
            record::{Clock, LostCauses, LostRecord},
        };
        use std::{fs::File, os::fd::FromRawFd, time::Duration};
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors owned by nobody else.
        let (read, write) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let reader = std::thread::spawn(move || std::io::read_to_string(read).expect("read"));
        let text = Encoder::Text(TextRenderer::new(false, Zone::Fixed(0)));
        let mut q = OutputQueue::start(write, 1 << 20, text).expect("start");
        let lost = Record::Lost(LostRecord {
            time: Clock::default().wall(1_000),
            ktime_ns: 1_000,
            count: 0,
            causes: LostCauses::default(),
        });
        q.send(&[lost.clone(), lost]).expect("send");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        assert_eq!(q.finish(deadline).expect("finish"), Finished::Delivered);
        let line = "00:00:00.000001 lost             -       - -               0 events lost";
        assert_eq!(
            reader.join().expect("reader"),
            format!("TIME            EVENT          PID    PPID COMM            DETAILS\n{line}\n{line}\n")
        );
    }

    #[test]
    fn auto_colours_a_terminal_without_no_color() {
        assert!(wants_color(ColorWhen::Auto, true, false));
        assert!(!wants_color(ColorWhen::Auto, false, false));
        assert!(!wants_color(ColorWhen::Auto, true, true));
        assert!(wants_color(ColorWhen::Always, false, true));
        assert!(!wants_color(ColorWhen::Never, true, false));
    }
}
