//! Diagnostics on stderr: every message proctrace prints besides its records goes through here.
//!
//! A diagnostic must never stop the tracer. `eprintln!` panics when the write fails
//! (`2>/dev/full`, or a stderr pipe whose reader is gone: Rust ignores SIGPIPE, so that is an
//! EPIPE error), which killed proctrace before it printed a record. Here a failed write is
//! dropped: the records on stdout matter, the diagnostics are a courtesy.
use std::{
    fmt,
    io::{self, Write},
};

/// `diag::warn!("...", args)`: one line `proctrace: ...` on stderr; a failed write is ignored.
macro_rules! diag_warn {
    ($($arg:tt)*) => {
        $crate::diag::line(format_args!($($arg)*))
    };
}
// Exported under an alias: a macro named `warn` itself clashes with the `#[warn]` attribute.
pub(crate) use diag_warn as warn;

/// Writes one line; use [`warn!`].
pub fn line(message: fmt::Arguments<'_>) {
    // Ignored on purpose: there is nowhere left to report that stderr failed.
    let _ = writeln!(io::stderr().lock(), "proctrace: {message}");
}

/// The fatal error that ends proctrace, with its causes.
pub fn error(err: &anyhow::Error) {
    line(format_args!("{}", chain(err)));
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
