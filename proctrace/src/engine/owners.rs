//! Long-lived zombies by owner, for the summary's `zombies_by_parent` and
//! `zombies_by_container`: the long-lived reaps are counted as they happen, the zombies still
//! unreaped are added when the summary is made.
use std::collections::HashMap;
use std::sync::Arc;

use crate::output::diagnosis::{ContainerZombies, ParentZombies, ZombieTally};
use crate::output::record::ProcId;

/// Owners remembered at most, per grouping (memory stays bounded): a host with more parents
/// of long-lived zombies has the first ones tallied; every zombie is still in `unreaped` or
/// its `reap` record.
const MAX_OWNERS: usize = 10_000;

/// A parent: its pid and, when tracked, its identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct ParentKey {
    pub(super) ppid: u32,
    pub(super) proc_id: Option<ProcId>,
}

/// A parent as proctrace knew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ParentSeen {
    pub(super) key: ParentKey,
    pub(super) comm: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Owners {
    by_parent: HashMap<ParentKey, (Option<String>, ZombieTally)>,
    by_container: HashMap<Option<Arc<str>>, ZombieTally>,
}

/// One long-lived zombie, reaped or not.
pub(super) struct OwnedZombie<'a> {
    pub(super) parent: &'a ParentSeen,
    pub(super) container_id: Option<&'a Arc<str>>,
    pub(super) zombie_ns: u64,
    pub(super) reaped: bool,
}

impl Owners {
    pub(super) fn add(&mut self, z: &OwnedZombie<'_>) {
        let tally = |t: &mut ZombieTally| {
            if z.reaped {
                t.add_reaped(z.zombie_ns);
            } else {
                t.add_unreaped(z.zombie_ns);
            }
        };
        if let Some(t) = entry(&mut self.by_parent, z.parent.key, || {
            (z.parent.comm.clone(), ZombieTally::default())
        }) {
            tally(&mut t.1);
        }
        if let Some(t) = entry(
            &mut self.by_container,
            z.container_id.cloned(),
            Default::default,
        ) {
            tally(t);
        }
    }

    /// The `top` largest groups of each kind, most unreaped first.
    pub(super) fn top(&self, top: usize) -> (Vec<ParentZombies>, Vec<ContainerZombies>) {
        let mut parents: Vec<ParentZombies> = self
            .by_parent
            .iter()
            .map(|(key, (comm, tally))| ParentZombies {
                ppid: key.ppid,
                parent_proc_id: key.proc_id,
                parent_comm: comm.clone(),
                tally: *tally,
            })
            .collect();
        parents.sort_by_key(|p| (p.tally.rank(), p.ppid));
        parents.truncate(top);
        let mut containers: Vec<ContainerZombies> = self
            .by_container
            .iter()
            .map(|(id, tally)| ContainerZombies {
                container_id: id.clone(),
                tally: *tally,
            })
            .collect();
        containers.sort_by(|a, b| {
            (a.tally.rank(), &a.container_id).cmp(&(b.tally.rank(), &b.container_id))
        });
        containers.truncate(top);
        (parents, containers)
    }
}

/// The entry of `key`, made when there is room for one more.
fn entry<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    key: K,
    make: impl FnOnce() -> V,
) -> Option<&mut V> {
    if map.len() >= MAX_OWNERS && !map.contains_key(&key) {
        return None;
    }
    Some(map.entry(key).or_insert_with(make))
}
