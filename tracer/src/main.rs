//! proctrace: eBPF process-lifecycle tracer. See README.md for the JSON contract.
mod btf;
mod cli;
mod daemon;
mod decode;
mod engine;
mod event;
mod loader;
mod offsets;
mod output;
mod privileges;
mod procscan;
mod progstats;
mod reconcile;
mod record;
mod timefmt;
mod tracefs;

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
    match runtime.block_on(daemon::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("proctrace: {err:#}");
            ExitCode::FAILURE
        }
    }
}
