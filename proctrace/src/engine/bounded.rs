//! `FreeWaits` (`--reap-timing bounded`): the reap placed without the wait syscall
//! tracepoints, whose cost every syscall on the host pays (kernel/tracepoint.c
//! syscall_regfunc()).
//!
//! What the kernel tells: `sched_process_wait` at the start of every do_wait() (kernel/exit.c;
//! the reaper's latest calls, with the pid each waits for), whether a thread of the parent was
//! asleep in do_wait() at the exit (its `signal->wait_chldexit` queue), and
//! `sched_process_free`, an RCU grace period after release_task(), naming the task's real
//! parent: wait_task_zombie() releases a child only to a thread of that group.
//!
//! So the reap is:
//! 1. at the exit, when the parent was asleep in a wait that could collect it: exit_notify()
//!    wakes it (__wake_up_parent()) and it collects the zombie as it runs again;
//! 2. otherwise at the first call after the exit that could collect it (for any child, or
//!    for this pid): do_wait() finds the zombie on its first pass;
//! 3. otherwise, when the reaper's latest call before the exit could collect it, at the exit:
//!    that call began before the exit but had not queued itself on `wait_chldexit` yet when
//!    the exit looked (`sched_process_wait` fires first thing in do_wait()), or the calls
//!    after the exit were not noted;
//! 4. otherwise unknown: the release's own moment, `how: release`, as when no wait is seen.
//!
//! Never later than the release; `reap_window_ns` says by how much it may be later than the
//! placed moment. Where it can err (README "Reap timing"): a `wait(-1)` returns one zombie per
//! call, so of several ready at once the later ones are collected by the next calls; a wait
//! for a process group is taken for a wait for the pid equal to the group's id; a parent
//! asleep in a wait that returns for another child first, then does not wait again for a
//! while, is taken to have collected this one at once.

use proctrace_common::CANNOT_COLLECT;

use crate::ingest::event::{FreeWaits, WaitCallSeen};
use crate::output::record::{ReapHow, Record};

use super::reap::Reap;
use super::Engine;

/// Where a reap is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Placed {
    pub(super) ktime_ns: u64,
    /// A wait call collected it (rules 1 to 3); `false`: the release's moment (rule 4).
    pub(super) by_wait: bool,
}

/// Places the reap of `pid`, a zombie since `exit_ns` and released at `free_ns`, from its
/// reaper's `calls` (oldest first) and whether the parent was asleep in a wait at the exit.
pub(super) fn place(
    pid: u32,
    exit_ns: u64,
    parent_waiting: bool,
    calls: &[WaitCallSeen],
    free_ns: u64,
) -> Placed {
    let can_collect =
        |c: &&WaitCallSeen| c.target != CANNOT_COLLECT && (c.target == 0 || c.target == pid);
    let at = |ktime_ns: u64| Placed {
        ktime_ns: ktime_ns.min(free_ns),
        by_wait: true,
    };
    if parent_waiting {
        // The call it was asleep in is the latest one before the exit; with none noted (it
        // began before proctrace started, or its note was evicted) the sleeper is still the
        // best guess.
        match calls.iter().rev().find(|c| c.ktime_ns <= exit_ns) {
            Some(c) if can_collect(&c) => return at(exit_ns),
            None => return at(exit_ns),
            Some(_) => {}
        }
    }
    if let Some(c) = calls
        .iter()
        .filter(can_collect)
        .find(|c| c.ktime_ns >= exit_ns && c.ktime_ns <= free_ns)
    {
        return at(c.ktime_ns);
    }
    // No call after the exit, yet a thread of the reaper's group released it: with a call
    // that could collect it begun before the exit, that call did, at the exit. It had not
    // queued itself yet when the exit looked (`sched_process_wait` fires before do_wait()'s
    // add_wait_queue()), or the calls after the exit were not noted.
    match calls.iter().rev().find(|c| c.ktime_ns < exit_ns) {
        Some(c) if can_collect(&c) => at(exit_ns),
        _ => Placed {
            ktime_ns: free_ns,
            by_wait: false,
        },
    }
}

impl Engine {
    pub(super) fn on_free_waits(&mut self, f: FreeWaits, out: &mut Vec<Record>) {
        // Only a process we track, of the same incarnation: an unknown pid's release is a
        // reap already reported (autoreap, at the exit) or of a process never seen.
        let Some(p) = self.procs.get_mut(&f.pid) else {
            return;
        };
        if !p.same_process(f.start_ns) {
            return;
        }
        // Alive for us: its exit event was lost. The release (of a group leader: the kernel
        // side drops threads and de_thread()'s old leader) is still its reap.
        let exit_ns = p.zombie_since();
        let placed = match exit_ns {
            Some(exit_ns) => place(
                f.pid,
                exit_ns,
                p.parent_waiting_at_exit,
                &f.calls,
                f.ktime_ns,
            ),
            None => Placed {
                ktime_ns: f.ktime_ns,
                by_wait: false,
            },
        };
        let (how, reaper) = if placed.by_wait {
            (ReapHow::Wait, Some(f.reaper))
        } else {
            (ReapHow::Release, None)
        };
        let reap = Reap {
            pid: f.pid,
            ktime_ns: placed.ktime_ns,
            ppid: f.reaper,
            reaper,
            how,
            zombie_ns: exit_ns.map(|since| placed.ktime_ns.saturating_sub(since)),
            window_ns: Some(f.ktime_ns.saturating_sub(placed.ktime_ns)),
        };
        self.reap_tracked(reap, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: u32 = 500;
    const EXIT: u64 = 10_000;
    const FREE: u64 = 20_000;

    fn call(ktime_ns: u64, target: u32) -> WaitCallSeen {
        WaitCallSeen {
            ktime_ns,
            tid: 7,
            target,
        }
    }

    fn by_wait(ktime_ns: u64) -> Placed {
        Placed {
            ktime_ns,
            by_wait: true,
        }
    }

    const RELEASE: Placed = Placed {
        ktime_ns: FREE,
        by_wait: false,
    };

    #[test]
    fn a_parent_asleep_in_a_wait_for_any_child_collects_it_at_the_exit() {
        let calls = [call(5_000, 0), call(12_000, 0)];
        assert_eq!(place(PID, EXIT, true, &calls, FREE), by_wait(EXIT));
        // For this very pid, too; and a sleeper whose call was never noted.
        assert_eq!(
            place(PID, EXIT, true, &[call(5_000, PID)], FREE),
            by_wait(EXIT)
        );
        assert_eq!(place(PID, EXIT, true, &[], FREE), by_wait(EXIT));
    }

    #[test]
    fn a_parent_asleep_waiting_for_another_child_collects_it_at_its_next_call() {
        let calls = [call(5_000, 777), call(15_000, PID)];
        assert_eq!(place(PID, EXIT, true, &calls, FREE), by_wait(15_000));
    }

    /// A `waitid(WNOWAIT)` only looks: asleep in one at the exit, the parent collects the
    /// zombie with a later call; and such a call is never the one that collects.
    #[test]
    fn a_call_that_cannot_collect_is_never_the_reap() {
        let calls = [call(5_000, CANNOT_COLLECT), call(13_000, CANNOT_COLLECT)];
        assert_eq!(place(PID, EXIT, true, &calls, FREE), RELEASE);
        let calls = [call(5_000, CANNOT_COLLECT), call(14_000, PID)];
        assert_eq!(place(PID, EXIT, true, &calls, FREE), by_wait(14_000));
    }

    #[test]
    fn a_parent_that_was_not_waiting_collects_it_at_its_first_call_after_the_exit() {
        // An earlier call (a WNOHANG poll) is over: the next one collects it.
        let calls = [call(5_000, 0), call(14_000, 0), call(16_000, 0)];
        assert_eq!(place(PID, EXIT, false, &calls, FREE), by_wait(14_000));
        // Calls for other children do not collect it.
        let calls = [call(11_000, 901), call(13_000, PID)];
        assert_eq!(place(PID, EXIT, false, &calls, FREE), by_wait(13_000));
    }

    /// A call begun just before the exit that was not asleep yet when the exit looked:
    /// nothing after the exit collected it, so that call did.
    #[test]
    fn a_call_begun_just_before_the_exit_collects_it_at_the_exit() {
        assert_eq!(
            place(PID, EXIT, false, &[call(9_990, PID)], FREE),
            by_wait(EXIT)
        );
        let calls = [call(5_000, 0), call(9_990, 0), call(12_000, 901)];
        assert_eq!(place(PID, EXIT, false, &calls, FREE), by_wait(EXIT));
    }

    #[test]
    fn without_a_call_that_could_collect_it_the_release_is_the_moment() {
        assert_eq!(place(PID, EXIT, false, &[], FREE), RELEASE);
        assert_eq!(place(PID, EXIT, false, &[call(5_000, 901)], FREE), RELEASE);
        assert_eq!(place(PID, EXIT, false, &[call(12_000, 901)], FREE), RELEASE);
        let peek = [call(5_000, 0), call(9_000, CANNOT_COLLECT)];
        assert_eq!(place(PID, EXIT, false, &peek, FREE), RELEASE);
        // A call noted after the release is not the one that released it.
        assert_eq!(place(PID, EXIT, false, &[call(FREE + 1, 0)], FREE), RELEASE);
    }

    #[test]
    fn the_placed_moment_is_never_after_the_release() {
        // Clocks of the two CPUs can disagree by a little: the release bounds the reap.
        assert_eq!(place(PID, FREE + 5, true, &[], FREE), by_wait(FREE));
    }
}
