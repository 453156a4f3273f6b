//! Whether stdout was open when the process started.
//!
//! Started with stdout closed (`proctrace >&-`), proctrace would trace into nothing, or worse,
//! into whatever file the next `open` gets as descriptor 1. It cannot see that from `main`:
//! Rust's runtime puts /dev/null on a closed stdin, stdout or stderr before `main` runs
//! (std's `sanitize_standard_fds`). The C runtime runs the `.init_array` functions before it
//! hands over to Rust's, so one of those looks first.
use std::sync::atomic::{AtomicBool, Ordering};

static OPEN_AT_START: AtomicBool = AtomicBool::new(true);

extern "C" fn look_at_stdout() {
    // SAFETY: F_GETFD only reads the descriptor's flags; it fails (EBADF) when it is closed.
    let closed = unsafe { libc::fcntl(libc::STDOUT_FILENO, libc::F_GETFD) } == -1;
    OPEN_AT_START.store(!closed, Ordering::Relaxed);
}

#[used]
#[link_section = ".init_array"]
static LOOK_AT_STDOUT: extern "C" fn() = look_at_stdout;

pub fn was_open_at_start() -> bool {
    OPEN_AT_START.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_test_runner_has_a_stdout() {
        assert!(super::was_open_at_start());
    }
}
