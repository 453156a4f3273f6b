//! Diagnostics on stderr: every message proctrace prints besides its records goes through here.
//!
//! A diagnostic must never stop the tracer. `eprintln!` panics when the write fails
//! (`2>/dev/full`, or a stderr pipe whose reader is gone: Rust ignores SIGPIPE, so that is an
//! EPIPE error), which killed proctrace before it printed a record. Here a failed write is
//! dropped: the records on stdout matter, the diagnostics are a courtesy.
use std::{
    fmt,
    io::{self, Write},
    sync::atomic::{AtomicU8, Ordering},
};

/// How much goes to stderr (`-q`, default, `-v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Only the fatal error and what could not be written to stdout.
    Quiet = 0,
    /// Also warnings, and one line about the hooks in use.
    Normal = 1,
    /// Also the details behind them (verifier output, resolved offsets).
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

pub fn set_verbosity(level: Verbosity) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// `diag::warn!("...", args)`: one line `proctrace: ...` on stderr unless `-q`; a failed write
/// is ignored.
macro_rules! diag_warn {
    ($($arg:tt)*) => {
        $crate::diag::line_at($crate::diag::Verbosity::Normal, format_args!($($arg)*))
    };
}
// Exported under an alias: a macro named `warn` itself clashes with the `#[warn]` attribute.
pub(crate) use diag_warn as warn;

/// `diag::detail!("...")`: a line for `-v` only.
macro_rules! diag_detail {
    ($($arg:tt)*) => {
        $crate::diag::line_at($crate::diag::Verbosity::Verbose, format_args!($($arg)*))
    };
}
pub(crate) use diag_detail as detail;

/// `diag::always!("...")`: a line even with `-q` (what the user would otherwise lose).
macro_rules! diag_always {
    ($($arg:tt)*) => {
        $crate::diag::line_at($crate::diag::Verbosity::Quiet, format_args!($($arg)*))
    };
}
pub(crate) use diag_always as always;

/// Writes one line if the verbosity asks for `level`; use the macros.
pub fn line_at(level: Verbosity, message: fmt::Arguments<'_>) {
    if level as u8 > LEVEL.load(Ordering::Relaxed) {
        return;
    }
    // Ignored on purpose: there is nowhere left to report that stderr failed.
    let _ = writeln!(io::stderr().lock(), "proctrace: {message}");
}

/// The fatal error that ends proctrace, with its causes (printed even with `-q`).
pub fn error(err: &anyhow::Error) {
    line_at(Verbosity::Quiet, format_args!("{}", chain(err)));
}

/// `context: cause: cause`, each cause once. Many error types also print their source in their
/// own message (aya's do), so anyhow's `{:#}` would print that cause twice: a cause whose text
/// the message before it already contains is left out.
pub fn chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut shown = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if !shown.is_empty() && shown.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
        shown = message;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that, like many, prints its source in its own message too.
    #[derive(Debug, thiserror::Error)]
    #[error("writing output: {0}")]
    struct Repeats(#[source] io::Error);

    #[test]
    fn each_cause_once() {
        let enospc = || io::Error::from_raw_os_error(libc::ENOSPC);
        let err = anyhow::Error::new(Repeats(enospc())).context("writing to stdout");
        assert_eq!(
            chain(&err),
            "writing to stdout: writing output: No space left on device (os error 28)"
        );
        let err = anyhow::Error::new(enospc()).context("writing to stdout");
        assert_eq!(
            chain(&err),
            "writing to stdout: No space left on device (os error 28)"
        );
    }
}
