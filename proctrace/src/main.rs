//! proctrace: eBPF process-lifecycle tracer. See README.md for the JSON contract.
mod cli;
mod engine;
#[cfg(test)]
mod golden_tests;
mod ingest;
mod kernel;
mod output;
mod proc;
mod session;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("proctrace: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(session::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("proctrace: {err:#}");
            ExitCode::FAILURE
        }
    }
}
