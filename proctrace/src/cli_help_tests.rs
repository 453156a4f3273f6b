//! The command line's shape: the subcommands beside the flat tracing flags, and `--help`'s
//! groups.
use clap::{error::ErrorKind, CommandFactory as _, Parser as _};

use crate::{cli::Args, generate::Generate};

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("proctrace").chain(args.iter().copied()))
}

#[test]
fn flat_flags_still_trace() {
    let args = parse(&["--duration", "1s", "-q"]).expect("flat flags");
    assert!(args.command.is_none());
    assert_eq!(args.duration, Some(std::time::Duration::from_secs(1)));
    assert!(parse(&[]).expect("no flags").command.is_none());
}

#[test]
fn subcommands_parse_and_exclude_the_tracing_flags() {
    let args = parse(&["completions", "zsh"]).expect("completions zsh");
    assert!(matches!(args.command, Some(Generate::Completions { .. })));
    let args = parse(&["man"]).expect("man");
    assert!(matches!(args.command, Some(Generate::Man)));
    for (bad, kind) in [
        (&["completions", "tcsh"][..], ErrorKind::InvalidValue),
        (&["completions"], ErrorKind::MissingRequiredArgument),
        (&["--duration", "1s", "man"], ErrorKind::ArgumentConflict),
        (&["man", "--duration", "1s"], ErrorKind::UnknownArgument),
        (&["manual"], ErrorKind::InvalidSubcommand),
    ] {
        let err = parse(bad)
            .map(|_| ())
            .expect_err(&format!("{bad:?} accepted"));
        assert_eq!(err.kind(), kind, "{bad:?}: {err}");
        assert_eq!(err.exit_code(), 2, "{bad:?}");
    }
}

#[test]
fn help_groups_the_flags_under_headings_in_order() {
    let help = Args::command().render_help().to_string();
    let at = |heading: &str| {
        help.find(&format!("\n{heading}:\n"))
            .unwrap_or_else(|| panic!("no {heading:?} heading in:\n{help}"))
    };
    let order = [
        "Commands",
        "Options",
        "Output",
        "Filters",
        "Tuning",
        "Diagnostics",
        "Metrics",
    ]
    .map(at);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{help}");
    // Only --help and --version stay in the catch-all "Options" group: a new flag without a
    // heading fails here.
    let options = &help[order[1]..order[2]];
    let flags: Vec<&str> = options
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .collect();
    assert_eq!(flags, ["--help", "--version"], "{options}");
}

/// README's options table has a row for every flag of `--help`, and each row shows the flag
/// in use (the flag's name a second time, in an example).
#[test]
fn the_readme_has_every_flag_with_an_example() {
    let readme = include_str!("../../README.md");
    for arg in Args::command().get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["help", "version"].contains(&long) {
            continue;
        }
        let flag = format!("--{long}");
        let row = readme
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `{flag} <"))
                    || l.starts_with(&format!("| `{flag}` |"))
                    || l.contains(&format!(", `{flag}` |"))
            })
            .unwrap_or_else(|| panic!("README's options table has no row for {flag}"));
        // The first cell names it, an example names it again (`-v` for `--verbose` will do).
        let mut uses = mentions(row, &flag);
        if let Some(c) = arg.get_short() {
            uses += mentions(row, &format!(" -{c}"));
        }
        assert!(uses >= 2, "no example of {flag} in its row: {row}");
    }
}

/// How often `name` occurs in `text` as a whole flag (`--metrics` is not in
/// `--metrics-allow-remote`).
fn mentions(text: &str, name: &str) -> usize {
    text.match_indices(name)
        .filter(|(at, _)| {
            let next = text[at + name.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .count()
}
