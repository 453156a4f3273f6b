//! The "Output" flags: where the records go.
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    /// Append the records to FILE instead of writing them on stdout (created with mode 0640
    /// if missing). SIGHUP reopens FILE, for log rotation (e.g. logrotate's postrotate
    /// `kill -HUP`), instead of stopping proctrace.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_events",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::Args;

    #[test]
    fn output_takes_a_path_and_conflicts_with_no_events() {
        let args = Args::try_parse_from(["proctrace", "--output", "/var/log/p.jsonl"])
            .expect("--output FILE");
        assert_eq!(
            args.output.output.as_deref(),
            Some(std::path::Path::new("/var/log/p.jsonl"))
        );
        assert_eq!(
            Args::try_parse_from(["proctrace"])
                .expect("none")
                .output
                .output,
            None
        );
        let both = [
            "proctrace",
            "--metrics",
            "127.0.0.1:9464",
            "--no-events",
            "--output",
            "f",
        ];
        let err = Args::try_parse_from(both).expect_err("--output with --no-events");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert_eq!(err.exit_code(), 2);
        let err = Args::try_parse_from(["proctrace", "--output", ""]).expect_err("empty path");
        assert_eq!(err.exit_code(), 2);
    }
}
