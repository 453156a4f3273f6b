//! Shell completion scripts (clap_complete), for the shells an operator's host has.
use clap::CommandFactory as _;

use crate::cli::Args;

/// `proctrace completions SHELL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl From<Shell> for clap_complete::Shell {
    fn from(shell: Shell) -> Self {
        match shell {
            Shell::Bash => clap_complete::Shell::Bash,
            Shell::Zsh => clap_complete::Shell::Zsh,
            Shell::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// The whole script, in memory: clap_complete panics when its writer fails (a closed pipe),
/// so the caller writes it and handles the error.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = Args::command();
    let mut script = Vec::new();
    clap_complete::generate(
        clap_complete::Shell::from(shell),
        &mut command,
        "proctrace",
        &mut script,
    );
    script
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum as _;

    use super::*;

    fn long_flags() -> Vec<String> {
        let command = Args::command();
        let flags: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .map(str::to_owned)
            .collect();
        assert!(flags.len() > 10, "{flags:?}");
        flags
    }

    #[test]
    fn every_shell_completes_every_long_flag() {
        for shell in Shell::value_variants() {
            let script = String::from_utf8(script(*shell)).expect("UTF-8");
            for flag in long_flags() {
                // fish: `complete -c proctrace -l ring-buffer-size`; bash and zsh spell it out.
                let spelled = match shell {
                    Shell::Fish => format!("-l {flag}"),
                    Shell::Bash | Shell::Zsh => format!("--{flag}"),
                };
                assert!(script.contains(&spelled), "{shell:?} lacks {spelled}");
            }
            for subcommand in ["completions", "man"] {
                assert!(script.contains(subcommand), "{shell:?} lacks {subcommand}");
            }
        }
    }

    #[test]
    fn the_value_choices_are_completed() {
        let script = String::from_utf8(script(Shell::Bash)).expect("UTF-8");
        assert!(
            script.contains("auto tracepoints classic"),
            "--hooks values"
        );
        assert!(script.contains("bash zsh fish"), "completions' shells");
    }
}
