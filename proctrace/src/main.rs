//! proctrace: eBPF process-lifecycle tracer. See README.md for the JSON contract.
mod cgroup;
mod cli;
#[cfg(test)]
mod cli_help_tests;
mod diag;
mod diagnoser;
mod engine;
mod filter;
mod generate;
#[cfg(test)]
mod golden_tests;
mod ingest;
mod kernel;
mod metrics;
mod output;
mod proc;
mod released;
mod session;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    if let Some(command) = &args.command {
        return generate::run(command);
    }
    diag::set_verbosity(match (args.quiet, args.verbose) {
        (true, _) => diag::Verbosity::Quiet,
        (false, true) => diag::Verbosity::Verbose,
        (false, false) => diag::Verbosity::Normal,
    });
    // Refused before anything is loaded; after parsing, so --help and usage errors still work.
    if !args.no_events && args.output.output.is_none() && !output::stdout::was_open_at_start() {
        diag::always!(
            "stdout is closed: the records would go nowhere (redirect it to a file or a pipe)"
        );
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            diag::always!("starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(session::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            diag::error(&err);
            ExitCode::FAILURE
        }
    }
}
