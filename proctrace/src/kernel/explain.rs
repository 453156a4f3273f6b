//! What to do when the kernel refuses to load proctrace's programs or maps: the kernel's own
//! error (aya's text ends in an errno) is kept, and a sentence naming the cause and the remedy
//! goes in front of it.

use crate::kernel::{btf::BtfError, offsets::OffsetsError, tracefs::TracefsError};

/// What the loader's caller knows that the error text does not.
#[derive(Clone, Copy, Debug)]
pub struct LoadSituation {
    /// Whether RLIMIT_MEMLOCK could be raised to infinity.
    pub memlock_raised: bool,
    /// `--ring-buffer-size`, in bytes.
    pub ring_buffer_bytes: u32,
}

/// `err` with the remedy in front when the cause is one we can name.
pub fn load_error(err: anyhow::Error, situation: LoadSituation) -> anyhow::Error {
    match remedy(&crate::diag::chain(&err), situation) {
        Some(remedy) => err.context(remedy),
        None => err,
    }
}

fn remedy(text: &str, situation: LoadSituation) -> Option<String> {
    let map_refused = text.contains("failed to create map");
    // Kernels before 5.11 charge maps to RLIMIT_MEMLOCK and say EPERM when it is exceeded
    // (kernel/bpf/syscall.c, "bpf: switch to memcg-based memory accounting").
    if map_refused && text.contains("Operation not permitted") && !situation.memlock_raised {
        return Some(
            "the kernel refused a BPF map and RLIMIT_MEMLOCK could not be raised: kernels \
             before 5.11 charge maps to it; run as root, add CAP_SYS_RESOURCE, or raise the \
             limit (ulimit -l unlimited)"
                .to_owned(),
        );
    }
    // Since 5.11 maps are charged to the memory cgroup (__GFP_ACCOUNT): the ring buffer is
    // the one map whose size the user chooses, and the usual reason a map does not fit.
    if map_refused && text.contains("Cannot allocate memory") {
        return Some(format!(
            "the kernel could not allocate memory for proctrace's maps, mostly the {} ring \
             buffer: use a smaller --ring-buffer-size (e.g. 4M, the default), or raise the \
             memory limit of the cgroup proctrace runs in (memory.max, or \
             memory.limit_in_bytes with cgroup v1)",
            human_bytes(situation.ring_buffer_bytes)
        ));
    }
    None
}

/// An error reading the kernel's layout (its BTF, its tracepoint formats), with what to do
/// in front: nothing is loaded yet.
pub fn layout_error(err: OffsetsError) -> anyhow::Error {
    let remedy = match &err {
        OffsetsError::Btf(BtfError::NotFound { .. }) => {
            "proctrace needs the kernel's BTF type information, and this kernel was built \
             without it: use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions' \
             kernels since 2020: Debian 11, Ubuntu 20.10, RHEL 8.2, Fedora 31 and later)"
        }
        OffsetsError::Tracefs(TracefsError::TracepointMissing { .. }) => {
            "a tracepoint proctrace needs is missing from this kernel: it needs the scheduler \
             and syscall tracepoints (CONFIG_TRACEPOINTS, CONFIG_FTRACE_SYSCALLS)"
        }
        _ => {
            "this kernel lays out a structure or a tracepoint in a way proctrace does not know: \
             please report it with `uname -r` and the output of `proctrace -v`; nothing was \
             loaded"
        }
    };
    anyhow::Error::new(err).context(remedy)
}

/// `4M`, `1G`: how `--ring-buffer-size` is written (it is a power of two).
fn human_bytes(bytes: u32) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}K", b >> 10),
        b => format!("{b}-byte"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENOMEM: &str = "loading the kernel programs: loading the eBPF object: map error: \
                          failed to create map `EVENTS`: Cannot allocate memory (os error 12)";
    const EPERM: &str = "loading the kernel programs: loading the eBPF object: map error: \
                         failed to create map `EVENTS`: Operation not permitted (os error 1)";

    fn situation(memlock_raised: bool) -> LoadSituation {
        LoadSituation {
            memlock_raised,
            ring_buffer_bytes: 1 << 30,
        }
    }

    #[test]
    fn a_map_that_does_not_fit_the_cgroup_names_the_ring_buffer() {
        let text = remedy(ENOMEM, situation(true)).expect("a remedy");
        assert!(text.contains("the 1G ring buffer"), "{text}");
        assert!(text.contains("use a smaller --ring-buffer-size"), "{text}");
    }

    #[test]
    fn memlock_is_named_only_when_it_could_not_be_raised() {
        let text = remedy(EPERM, situation(false)).expect("a remedy");
        assert!(text.contains("RLIMIT_MEMLOCK"), "{text}");
        assert_eq!(remedy(EPERM, situation(true)), None);
    }

    #[test]
    fn other_errors_are_left_alone() {
        assert_eq!(
            remedy("program exit: verifier rejected", situation(false)),
            None
        );
        let err = load_error(anyhow::anyhow!("something else"), situation(false));
        assert_eq!(crate::diag::chain(&err), "something else");
    }

    #[test]
    fn a_kernel_without_btf_is_told_which_option_it_lacks() {
        let err = layout_error(OffsetsError::Btf(BtfError::NotFound {
            path: "/sys/kernel/btf/vmlinux".into(),
        }));
        let text = crate::diag::chain(&err);
        assert!(
            text.starts_with("proctrace needs the kernel's BTF type information"),
            "{text}"
        );
        assert!(text.contains("CONFIG_DEBUG_INFO_BTF=y"), "{text}");
        assert!(
            text.ends_with(
                "not found at /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF=y is required)"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_layout_asks_for_a_report() {
        let err = layout_error(OffsetsError::MissingField {
            tracepoint: "sched:sched_process_fork".into(),
            field: "child_pid",
        });
        let text = crate::diag::chain(&err);
        assert!(text.contains("please report it with `uname -r`"), "{text}");
        assert!(text.ends_with("has no field \"child_pid\""), "{text}");
    }

    #[test]
    fn ring_sizes_read_as_written() {
        assert_eq!(human_bytes(4 << 20), "4M");
        assert_eq!(human_bytes(1 << 30), "1G");
        assert_eq!(human_bytes(64 << 10), "64K");
        assert_eq!(human_bytes(1000), "1000-byte");
    }
}
