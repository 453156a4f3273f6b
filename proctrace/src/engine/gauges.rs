//! Point-in-time figures of the process table, for the metrics' gauges (metrics/refresh.rs):
//! how many tracked processes are alive and how many are zombies, and the zombies of each
//! container with the exit time of the oldest. Pure: the caller passes the time.
use std::{collections::HashMap, sync::Arc};

use super::{process::State, Engine};

/// The zombies of one container (`None`: the host), as tracked now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerZombieGauge {
    pub container_id: Option<Arc<str>>,
    pub zombies: u64,
    /// Age of the oldest of them at the time asked for (0 for one that exited "after" it).
    pub oldest_age_ns: u64,
}

/// The process table in figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableGauges {
    /// Tracked processes that have not exited.
    pub alive: u64,
    /// Tracked processes that exited and are not reaped yet.
    pub zombies: u64,
    /// The zombies by container (as captured at their exit), in no particular order; a
    /// container without zombies is not listed.
    pub by_container: Vec<ContainerZombieGauge>,
}

impl Engine {
    /// The figures of the process table at kernel time `now_ktime_ns`.
    pub fn gauges(&self, now_ktime_ns: u64) -> TableGauges {
        let mut alive = 0u64;
        let mut zombies = 0u64;
        // container → (zombies, earliest exit)
        let mut by: HashMap<Option<Arc<str>>, (u64, u64)> = HashMap::new();
        for p in self.procs.values() {
            match p.state {
                State::Alive => alive += 1,
                State::Zombie { since_ns, .. } => {
                    zombies += 1;
                    let slot = by
                        .entry(p.place.container_id.clone())
                        .or_insert((0, since_ns));
                    slot.0 += 1;
                    slot.1 = slot.1.min(since_ns);
                }
            }
        }
        let by_container = by
            .into_iter()
            .map(|(container_id, (zombies, since_ns))| ContainerZombieGauge {
                container_id,
                zombies,
                oldest_age_ns: now_ktime_ns.saturating_sub(since_ns),
            })
            .collect();
        TableGauges {
            alive,
            zombies,
            by_container,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{process::Proc, EngineConfig};
    use super::*;
    use crate::output::record::Clock;

    const S: u64 = 1_000_000_000;

    fn engine() -> Engine {
        Engine::new(EngineConfig {
            zombie_threshold_ns: S,
            clock: Clock::from_offset_ns(0),
            top: 10,
        })
    }

    fn add(e: &mut Engine, pid: u32, zombie_since: Option<u64>, container: Option<&str>) {
        let mut p = Proc::new(pid, 1, false, "x".into(), 1);
        p.place.container_id = container.map(Arc::from);
        if let Some(since) = zombie_since {
            p.become_zombie(since);
        }
        e.insert(pid, p);
    }

    #[test]
    fn counts_by_state_and_zombies_by_container_with_the_oldest() {
        let mut e = engine();
        assert_eq!(e.gauges(10 * S), TableGauges::default());
        add(&mut e, 10, None, None);
        add(&mut e, 11, None, Some("c1"));
        add(&mut e, 12, Some(4 * S), Some("c1"));
        add(&mut e, 13, Some(2 * S), Some("c1"));
        add(&mut e, 14, Some(7 * S), None);
        add(&mut e, 15, Some(9 * S), Some("c2"));
        let mut g = e.gauges(10 * S);
        g.by_container
            .sort_by(|a, b| a.container_id.cmp(&b.container_id));
        assert_eq!(g.alive, 2);
        assert_eq!(g.zombies, 4);
        let c = |id: Option<&str>, zombies, age| ContainerZombieGauge {
            container_id: id.map(Arc::from),
            zombies,
            oldest_age_ns: age,
        };
        assert_eq!(
            g.by_container,
            vec![
                c(None, 1, 3 * S),
                c(Some("c1"), 2, 8 * S),
                c(Some("c2"), 1, S)
            ]
        );
        // A zombie stamped after `now` (an event newer than the clock read) is 0 s old.
        assert_eq!(e.gauges(S).by_container.len(), 3);
        assert!(e
            .gauges(0)
            .by_container
            .iter()
            .all(|c| c.oldest_age_ns == 0));
    }
}
