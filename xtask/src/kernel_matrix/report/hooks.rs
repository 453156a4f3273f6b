//! The hooks of proctrace's start record, by job.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hooks {
    pub fork: String,
    pub exec: String,
    pub exit: String,
    pub reap: String,
}

impl Hooks {
    /// `tp_btf / tp_btf / tp_btf / fentry`: the kind(s) of each job's hook(s). A job with
    /// several hooks is written `tracepoint/a/b+tracepoint/c/d, tp_btf/e` or
    /// `tracepoint/a/b+c/d+tp_btf/e`; parts that do not start with a kind are skipped.
    pub fn kinds(&self) -> String {
        const KINDS: [&str; 9] = [
            "tp_btf",
            "tracepoint",
            "raw_tracepoint",
            "fentry",
            "fexit",
            "kprobe",
            "kretprobe",
            "kprobe.multi",
            "lsm",
        ];
        [&self.fork, &self.exec, &self.exit, &self.reap]
            .map(|hook| {
                let mut kinds: Vec<&str> = Vec::new();
                for part in hook.split([',', '+']).map(str::trim) {
                    let kind = part.split('/').next().unwrap_or(part);
                    if KINDS.contains(&kind) && !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                kinds.join("+")
            })
            .join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hook_kinds() {
        let hooks = |reap: &str| Hooks {
            fork: "tp_btf/sched_process_fork".into(),
            exec: "tracepoint/sched/sched_process_exec".into(),
            exit: "kprobe/do_exit".into(),
            reap: reap.into(),
        };
        assert_eq!(
            hooks("fentry/release_task").kinds(),
            "tp_btf / tracepoint / kprobe / fentry"
        );
        assert_eq!(
            hooks(
                "tracepoint/syscalls/sys_enter_wait4+tracepoint/syscalls/sys_exit_wait4\
                 +tp_btf/sched_process_free"
            )
            .kinds(),
            "tp_btf / tracepoint / kprobe / tracepoint+tp_btf"
        );
    }
}
