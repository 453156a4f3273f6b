//! The programs' per-CPU failure counters (`proctrace_common::counter`), summed over CPUs
//! and mapped to the causes of `lost` records: every counter the kernel side keeps reaches
//! the output.
use aya::maps::{MapData, PerCpuArray};
use proctrace_common::counter;

use crate::output::record::{HookCounts, LostCauses};

const COUNT: usize = counter::COUNT as usize;

/// The `COUNTERS` map.
pub struct KernelCounters {
    map: PerCpuArray<MapData, u64>,
}

impl KernelCounters {
    pub fn new(map: PerCpuArray<MapData, u64>) -> Self {
        KernelCounters { map }
    }

    /// Totals since load, one per counter index. Reading our own map only fails on a bug
    /// (a bad index): such a counter reads as 0 rather than stopping the trace.
    pub fn totals(&self) -> [u64; COUNT] {
        let mut totals = [0; COUNT];
        for (index, total) in (0..counter::COUNT).zip(totals.iter_mut()) {
            *total = self
                .map
                .get(&index, 0)
                .map(|per_cpu| per_cpu.iter().fold(0u64, |a, &b| a.saturating_add(b)))
                .unwrap_or(0);
        }
        totals
    }
}

/// The causes the kernel counters report; `recursion` and `undecodable` come from elsewhere.
pub fn causes(totals: &[u64; COUNT]) -> LostCauses {
    let at = |index: u32| totals[index as usize];
    LostCauses {
        ring_buffer_full: at(counter::RINGBUF_FULL),
        kernel_read_failed: at(counter::KERNEL_READ_FAILED),
        fork_unpaired: at(counter::FORK_UNPAIRED),
        dropped: HookCounts {
            fork: at(counter::DROPPED_FORK),
            exec: at(counter::DROPPED_EXEC),
            exit: at(counter::DROPPED_EXIT),
            reap: at(counter::DROPPED_REAP),
            wait: at(counter::DROPPED_WAIT),
        },
        ..LostCauses::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_reaches_its_own_cause() {
        // A distinct power of two per counter: any counter mapped twice, or not at all, or to
        // the wrong cause, changes the sum below.
        let mut totals = [0u64; COUNT];
        for (i, t) in totals.iter_mut().enumerate() {
            *t = 1 << i;
        }
        let c = causes(&totals);
        assert_eq!(c.ring_buffer_full, 1 << counter::RINGBUF_FULL);
        assert_eq!(c.kernel_read_failed, 1 << counter::KERNEL_READ_FAILED);
        assert_eq!(c.fork_unpaired, 1 << counter::FORK_UNPAIRED);
        assert_eq!(c.dropped.fork, 1 << counter::DROPPED_FORK);
        assert_eq!(c.dropped.exec, 1 << counter::DROPPED_EXEC);
        assert_eq!(c.dropped.exit, 1 << counter::DROPPED_EXIT);
        assert_eq!(c.dropped.reap, 1 << counter::DROPPED_REAP);
        assert_eq!(c.dropped.wait, 1 << counter::DROPPED_WAIT);
        let mapped = c.ring_buffer_full
            + c.kernel_read_failed
            + c.fork_unpaired
            + c.dropped.total()
            + c.recursion.total()
            + c.undecodable;
        assert_eq!(
            mapped,
            (1u64 << COUNT) - 1,
            "every counter mapped exactly once"
        );
    }

    #[test]
    fn lost_count_is_events_not_damage() {
        let mut totals = [0u64; COUNT];
        totals[counter::KERNEL_READ_FAILED as usize] = 5;
        totals[counter::FORK_UNPAIRED as usize] = 2;
        let c = causes(&totals);
        assert_eq!(c.total(), 0);
        assert!(!c.is_empty(), "damage alone is still reported");
        totals[counter::DROPPED_EXEC as usize] = 3;
        totals[counter::RINGBUF_FULL as usize] = 4;
        assert_eq!(causes(&totals).total(), 7);
    }
}
