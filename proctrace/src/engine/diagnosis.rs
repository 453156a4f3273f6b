//! Why a zombie is not reaped: the verdict rules (README "Why a zombie is not reaped"), a
//! pure function of what /proc and the kernel's wait notes say about its parent.
//!
//! The kernel facts behind the rules (kernel/exit.c, kernel/signal.c):
//! - exit_notify() makes a dead process a zombie and do_notify_parent() sends its parent
//!   SIGCHLD; only a wait-family call (do_wait() → wait_task_zombie() → release_task())
//!   ends the zombie. Unless the parent ignores SIGCHLD or set SA_NOCLDWAIT: then
//!   do_notify_parent() has the child released at once (autoreap), and no zombie is left.
//! - do_wait() sleeps on the parent's `wait_chldexit` queue, which __wake_up_parent() wakes
//!   whatever the parent's signal mask: a parent blocked in a wait collects any child it
//!   waits for. A parent that reaps from a SIGCHLD handler never does while SIGCHLD is
//!   blocked, nor while it is stopped (the stop comes before anything it would run).
//! - When a parent dies first, forget_original_parent() → find_new_reaper() hands its
//!   children to a live thread of its own group, else to the nearest
//!   PR_SET_CHILD_SUBREAPER ancestor, else to the pid namespace's init (`child_reaper`):
//!   a reparented zombie's parent is a subreaper or an init.
use crate::output::diagnosis::{Diagnosis, ParentRole, Sigchld, Verdict};

/// SIGCHLD's bit in /proc/PID/status's signal masks (signal 17 on every architecture
/// proctrace runs on; bit `signo - 1`).
const SIGCHLD_BIT: u64 = 1 << (libc::SIGCHLD - 1);

/// What /proc says of the parent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParentFacts {
    pub pid: u32,
    /// /proc/PID/stat's state letter.
    pub state: char,
    /// /proc/PID/wchan, `None` when empty or "0".
    pub wchan: Option<String>,
    /// /proc/PID/status's `SigBlk`, `SigIgn`, `SigCgt`.
    pub sig_blocked: u64,
    pub sig_ignored: u64,
    pub sig_caught: u64,
    /// Its pid in its own pid namespace (the last `NSpid` value), when known.
    pub nspid: Option<u32>,
    /// Its start time (ns since boot, clock-tick resolution), to tell its wait notes from
    /// those of an earlier process with the same pid.
    pub start_ns: u64,
}

/// Everything a verdict is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// `None`: /proc/PPID could not be read.
    pub parent: Option<ParentFacts>,
    /// Kernel boot time of the parent's latest wait-family call since proctrace started.
    pub last_wait_ns: Option<u64>,
    /// The zombie's exit (boot time).
    pub exited_ns: u64,
    /// The record's time (boot time).
    pub now_ns: u64,
    /// The zombie's parent is not the one it was forked from.
    pub reparented: bool,
}

/// The `diagnosis` object for one observation.
pub fn diagnose(obs: &Observation) -> Diagnosis {
    let parent = obs.parent.as_ref();
    Diagnosis {
        verdict: verdict(obs),
        parent_state: parent.map(|p| p.state.to_string()),
        parent_wchan: parent.and_then(|p| p.wchan.clone()),
        sigchld: parent.map(sigchld),
        sigchld_blocked: parent.map(|p| p.sig_blocked & SIGCHLD_BIT != 0),
        parent_last_wait_ns: obs.last_wait_ns.map(|t| obs.now_ns.saturating_sub(t)),
        parent_role: parent.map(|p| role(p, obs.reparented)),
    }
}

/// The first rule that matches (README "Why a zombie is not reaped").
fn verdict(obs: &Observation) -> Verdict {
    let Some(p) = &obs.parent else {
        return Verdict::Unknown;
    };
    let waited_since_exit = obs.last_wait_ns.is_some_and(|t| t >= obs.exited_ns);
    if matches!(p.state, 'T' | 't') {
        Verdict::ParentStopped
    } else if in_wait(p) || waited_since_exit {
        Verdict::ParentWaitsForOthers
    } else if is_container_init(p) {
        Verdict::ContainerInitDoesNotReap
    } else if p.sig_blocked & SIGCHLD_BIT != 0 {
        Verdict::ParentBlocksSigchld
    } else if sigchld(p) == Sigchld::Handled {
        Verdict::ParentHandlerDoesNotWait
    } else if obs.last_wait_ns.is_none() {
        Verdict::ParentNeverWaits
    } else if matches!(p.state, 'R' | 'D') {
        Verdict::ParentBusy
    } else {
        Verdict::ParentNotWaiting
    }
}

/// Asleep in do_wait() (kernel/exit.c), the one place a wait-family call sleeps.
fn in_wait(p: &ParentFacts) -> bool {
    p.wchan.as_deref() == Some("do_wait")
}

/// The init of a pid namespace below the host's: proctrace runs in the initial one (it
/// refuses others, proc/namespace.rs), whose own init is pid 1.
fn is_container_init(p: &ParentFacts) -> bool {
    p.nspid == Some(1) && p.pid != 1
}

fn sigchld(p: &ParentFacts) -> Sigchld {
    if p.sig_ignored & SIGCHLD_BIT != 0 {
        Sigchld::Ignored
    } else if p.sig_caught & SIGCHLD_BIT != 0 {
        Sigchld::Handled
    } else {
        Sigchld::Default
    }
}

fn role(p: &ParentFacts, reparented: bool) -> ParentRole {
    if p.nspid == Some(1) {
        ParentRole::NsInit
    } else if reparented {
        ParentRole::Subreaper
    } else {
        ParentRole::Parent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXITED: u64 = 10_000_000_000;
    const NOW: u64 = EXITED + 2_000_000_000;

    fn sleeping_parent() -> ParentFacts {
        ParentFacts {
            pid: 4242,
            state: 'S',
            wchan: Some("hrtimer_nanosleep".into()),
            nspid: Some(4242),
            ..ParentFacts::default()
        }
    }

    fn observe(parent: ParentFacts, last_wait_ns: Option<u64>) -> Observation {
        Observation {
            parent: Some(parent),
            last_wait_ns,
            exited_ns: EXITED,
            now_ns: NOW,
            reparented: false,
        }
    }

    fn verdict_of(parent: ParentFacts, last_wait_ns: Option<u64>) -> Verdict {
        diagnose(&observe(parent, last_wait_ns)).verdict
    }

    #[test]
    fn an_unreadable_parent_is_unknown_with_no_facts() {
        let d = diagnose(&Observation {
            parent: None,
            last_wait_ns: Some(EXITED - 1),
            exited_ns: EXITED,
            now_ns: NOW,
            reparented: true,
        });
        assert_eq!(d.verdict, Verdict::Unknown);
        assert_eq!(
            (d.parent_state, d.sigchld, d.sigchld_blocked, d.parent_role),
            (None, None, None, None)
        );
        assert_eq!(d.parent_last_wait_ns, Some(NOW - EXITED + 1));
    }

    #[test]
    fn a_stopped_parent_outranks_everything() {
        for state in ['T', 't'] {
            let p = ParentFacts {
                state,
                wchan: Some("do_signal_stop".into()),
                sig_blocked: SIGCHLD_BIT,
                nspid: Some(1),
                ..sleeping_parent()
            };
            assert_eq!(verdict_of(p, Some(NOW)), Verdict::ParentStopped);
        }
    }

    #[test]
    fn a_parent_in_do_wait_or_that_waited_since_waits_for_others() {
        let waiting = ParentFacts {
            wchan: Some("do_wait".into()),
            sig_blocked: SIGCHLD_BIT,
            ..sleeping_parent()
        };
        assert_eq!(verdict_of(waiting, None), Verdict::ParentWaitsForOthers);
        // A wait after the exit that did not take it (a WNOHANG poll for another pid).
        assert_eq!(
            verdict_of(sleeping_parent(), Some(EXITED + 1)),
            Verdict::ParentWaitsForOthers
        );
        assert_eq!(
            verdict_of(sleeping_parent(), Some(EXITED)),
            Verdict::ParentWaitsForOthers
        );
    }

    #[test]
    fn a_container_init_that_does_not_wait() {
        let init = ParentFacts {
            nspid: Some(1),
            ..sleeping_parent()
        };
        assert_eq!(
            verdict_of(init.clone(), None),
            Verdict::ContainerInitDoesNotReap
        );
        // Before the exit does not count.
        assert_eq!(
            verdict_of(init.clone(), Some(EXITED - 1)),
            Verdict::ContainerInitDoesNotReap
        );
        let d = diagnose(&observe(init, None));
        assert_eq!(d.parent_role, Some(ParentRole::NsInit));
        // The host's own init is no container's.
        let host_init = ParentFacts {
            pid: 1,
            nspid: Some(1),
            ..sleeping_parent()
        };
        assert_eq!(verdict_of(host_init, None), Verdict::ParentNeverWaits);
    }

    #[test]
    fn sigchld_blocked_then_handled_then_never_waits() {
        let blocked = ParentFacts {
            sig_blocked: SIGCHLD_BIT,
            sig_caught: SIGCHLD_BIT,
            ..sleeping_parent()
        };
        let d = diagnose(&observe(blocked, None));
        assert_eq!(d.verdict, Verdict::ParentBlocksSigchld);
        assert_eq!(
            (d.sigchld, d.sigchld_blocked),
            (Some(Sigchld::Handled), Some(true))
        );
        let handled = ParentFacts {
            sig_caught: SIGCHLD_BIT,
            ..sleeping_parent()
        };
        assert_eq!(
            verdict_of(handled, Some(EXITED - 5)),
            Verdict::ParentHandlerDoesNotWait
        );
        let d = diagnose(&observe(sleeping_parent(), None));
        assert_eq!(d.verdict, Verdict::ParentNeverWaits);
        assert_eq!(
            (d.sigchld, d.sigchld_blocked, d.parent_last_wait_ns),
            (Some(Sigchld::Default), Some(false), None)
        );
        let ignored = ParentFacts {
            sig_ignored: SIGCHLD_BIT,
            // Other signals' bits do not count.
            sig_blocked: !SIGCHLD_BIT,
            ..sleeping_parent()
        };
        let d = diagnose(&observe(ignored, None));
        assert_eq!(
            (d.verdict, d.sigchld, d.sigchld_blocked),
            (
                Verdict::ParentNeverWaits,
                Some(Sigchld::Ignored),
                Some(false)
            )
        );
    }

    #[test]
    fn a_parent_that_waited_before_the_exit_is_busy_or_not_waiting() {
        let before = Some(EXITED - 1_000);
        for state in ['R', 'D'] {
            let busy = ParentFacts {
                state,
                wchan: None,
                ..sleeping_parent()
            };
            assert_eq!(verdict_of(busy, before), Verdict::ParentBusy);
        }
        assert_eq!(
            verdict_of(sleeping_parent(), before),
            Verdict::ParentNotWaiting
        );
        let d = diagnose(&observe(sleeping_parent(), before));
        assert_eq!(d.parent_last_wait_ns, Some(NOW - EXITED + 1_000));
    }

    #[test]
    fn a_reparented_zombie_names_its_subreaper() {
        let mut obs = observe(sleeping_parent(), None);
        obs.reparented = true;
        assert_eq!(diagnose(&obs).parent_role, Some(ParentRole::Subreaper));
        obs.reparented = false;
        assert_eq!(diagnose(&obs).parent_role, Some(ParentRole::Parent));
    }

    #[test]
    fn the_verdicts_serialize_as_documented() {
        let names: Vec<String> = [
            Verdict::Unknown,
            Verdict::ParentStopped,
            Verdict::ParentWaitsForOthers,
            Verdict::ContainerInitDoesNotReap,
            Verdict::ParentBlocksSigchld,
            Verdict::ParentHandlerDoesNotWait,
            Verdict::ParentNeverWaits,
            Verdict::ParentBusy,
            Verdict::ParentNotWaiting,
        ]
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .map(|j| j.to_string())
                .unwrap_or_default()
        })
        .collect();
        assert_eq!(
            names.join(" "),
            "\"unknown\" \"parent_stopped\" \"parent_waits_for_others\" \
             \"container_init_does_not_reap\" \"parent_blocks_sigchld\" \
             \"parent_handler_does_not_wait\" \"parent_never_waits\" \"parent_busy\" \
             \"parent_not_waiting\""
        );
    }
}
