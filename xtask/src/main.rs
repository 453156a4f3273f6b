//! `cargo xtask`: build, run, test, lint and install proctrace.
//!
//! One module per subcommand; shared process helpers live in `cmd`.

mod bench;
mod build;
mod clippy;
mod cmd;
mod install;
mod kernel_matrix;
mod run;
mod setup;
mod test;
mod toolchain;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "proctrace developer tasks",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install/verify the eBPF toolchain (nightly rust-src, bpf-linker); idempotent
    Setup(setup::Options),
    /// Build the proctrace binary (the eBPF programs are built by proctrace/build.rs)
    Build(build::Options),
    /// Build, then run proctrace (JSON records on stdout; Ctrl-C stops)
    Run(run::Options),
    /// Run the whole test suite: setup, workspace tests, privileged tests (root)
    Test(test::Options),
    /// Lint the userspace crates and the eBPF crate with clippy (-D warnings)
    Clippy(clippy::Options),
    /// Release build, then install proctrace, its man page, completions and systemd unit under <prefix>
    Install(install::Options),
    /// Benchmark proctrace against peer tracers (bpftrace, execsnoop, ...); writes BENCHMARKS.md
    Bench(bench::Options),
    /// Run the privileged tests on Debian's 5.10, 6.1, 6.12 and 7.3 kernels under qemu, and the host
    KernelMatrix(kernel_matrix::Options),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::prepare_environment();
    let result = match cli.command {
        Command::Setup(opts) => setup::run(opts),
        Command::Build(opts) => build::run(opts),
        Command::Run(opts) => run::run(opts),
        Command::Test(opts) => test::run(opts),
        Command::Clippy(opts) => clippy::run(opts),
        Command::Install(opts) => install::run(opts),
        Command::Bench(opts) => bench::run(opts),
        Command::KernelMatrix(opts) => kernel_matrix::run(opts),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.downcast_ref::<cmd::Reported>().is_none() {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(cmd::exit_code_of(&err))
        }
    }
}
