//! `proctrace completions SHELL` and `proctrace man`: files generated from the command-line
//! definition itself, so they never drift from the flags. Neither loads anything nor needs
//! root; `cargo xtask install` runs them to install the files.
mod completions;
mod man;

use std::{
    io::{self, Write as _},
    process::ExitCode,
};

use crate::{diag, output};

/// The subcommands; without one, proctrace traces.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Generate {
    /// Print a shell completion script on stdout, e.g. `proctrace completions bash >
    /// /usr/share/bash-completion/completions/proctrace`.
    Completions {
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print the manual page (roff, section 8) on stdout, e.g. `proctrace man | man -l -`.
    Man,
}

/// Writes what `command` asks for on stdout.
pub fn run(command: &Generate) -> ExitCode {
    let text = match command {
        Generate::Completions { shell } => completions::script(*shell),
        Generate::Man => man::page(),
    };
    // Rust's runtime puts /dev/null on a closed stdout before `main` (output/stdout.rs): the
    // script would be lost without a word.
    if !output::stdout::was_open_at_start() {
        diag::always!("stdout is closed: redirect it to the file the output should go to");
        return ExitCode::FAILURE;
    }
    match write_stdout(&text) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`proctrace man | head`): as when tracing, not an error.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            diag::always!("writing to stdout: {err}; check the file or disk it goes to");
            ExitCode::FAILURE
        }
    }
}

fn write_stdout(text: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text)?;
    out.flush()
}
