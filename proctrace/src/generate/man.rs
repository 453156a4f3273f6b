//! The manual page (clap_mangen): section 8, system administration, since tracing needs root.
use clap::CommandFactory as _;
use clap_mangen::roff::{bold, roman, Roff};

use crate::cli::Args;

/// The subcommands, as an operator types them (clap_mangen would point at
/// proctrace-completions(8) pages that do not exist).
const SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "proctrace completions bash|zsh|fish",
        "Print the completion script for that shell on stdout. cargo xtask install puts them \
         in share/bash-completion/completions/proctrace, share/zsh/site-functions/_proctrace \
         and share/fish/vendor_completions.d/proctrace.fish under its prefix.",
    ),
    (
        "proctrace man",
        "Print this page (roff) on stdout: proctrace man | man -l -",
    ),
];

/// What `--help` cannot say: exit codes, signals, the files proctrace touches.
const SECTIONS: &[(&str, &str)] = &[
    (
        "EXIT STATUS",
        "0: stopped by a signal or --duration (after the summary record), or the reader of \
         stdout went away. 1: it could not start (missing privileges, inside a pid namespace, \
         stdout closed, --output not writable) or could not write its records (the summary then \
         goes to stderr). 2: a usage error.",
    ),
    (
        "SIGNALS",
        "SIGINT and SIGTERM stop tracing: proctrace detaches its programs, prints the summary \
         record as its last line and exits 0 within 2 seconds. SIGHUP does the same without \
         --output; with --output it reopens the file (for log rotation) and tracing goes on.",
    ),
    (
        "FILES",
        "/sys/kernel/tracing: tracefs, mounted there for the run when it is not mounted. \
         /sys/kernel/btf/vmlinux: the kernel's BTF. /proc: read at start and by the periodic \
         checks. lib/systemd/system/proctrace.service under the install prefix: the unit that \
         runs proctrace as a service.",
    ),
];

/// The roff page: clap_mangen's sections for what the flags say, ours for the rest.
pub fn page() -> Vec<u8> {
    let man = clap_mangen::Man::new(Args::command())
        .title("PROCTRACE")
        .section("8")
        .manual("System Administration");
    let mut page = Vec::new();
    // Writing to a Vec cannot fail: the results carry no information.
    let _ = man.render_title(&mut page);
    let _ = man.render_name_section(&mut page);
    let _ = man.render_synopsis_section(&mut page);
    let _ = man.render_description_section(&mut page);
    let _ = man.render_options_section(&mut page);
    let _ = our_sections().to_writer(&mut page);
    page
}

fn our_sections() -> Roff {
    let mut roff = Roff::default();
    roff.control("SH", ["SUBCOMMANDS"]);
    for (usage, text) in SUBCOMMANDS {
        roff.control("TP", [])
            .text([bold(*usage)])
            .text([roman(*text)]);
    }
    for (heading, text) in SECTIONS {
        roff.control("SH", [*heading]).text([roman(*text)]);
    }
    roff.control("SH", ["SEE ALSO"]).text([
        bold("bpftool"),
        roman("(8), "),
        bold("systemd.exec"),
        roman("(5)"),
    ]);
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_section_8_with_every_flag_and_subcommand() {
        let page = String::from_utf8(page()).expect("UTF-8");
        assert!(page.contains(".TH PROCTRACE 8 "), "{}", &page[..200]);
        for flag in Args::command().get_arguments().filter_map(|a| a.get_long()) {
            // roff escapes the minus signs of options: \-\-ring\-buffer\-size.
            let escaped = format!("--{flag}").replace('-', "\\-");
            assert!(page.contains(&escaped), "the man page lacks --{flag}");
        }
        assert!(page.contains(".SH SUBCOMMANDS"), "no SUBCOMMANDS section");
        for usage in [
            r"\fBproctrace completions bash|zsh|fish",
            r"\fBproctrace man\fR",
        ] {
            assert!(page.contains(usage), "the man page lacks {usage}");
        }
        assert!(
            !page.contains(r"proctrace\-completions(8)"),
            "a page that does not exist"
        );
        for (heading, _) in SECTIONS {
            // roff quotes a heading with spaces: .SH "EXIT STATUS".
            let quoted = format!(".SH \"{heading}\"\n");
            let bare = format!(".SH {heading}\n");
            assert!(
                page.contains(&quoted) || page.contains(&bare),
                "no {heading}"
            );
        }
    }
}
