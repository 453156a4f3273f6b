//! Cgroup ids → paths (the edge: it reads the cgroup filesystem). The kernel programs send
//! kernfs node ids; a cgroup's id is the inode number of its directory (fs/kernfs/inode.c
//! kernfs_init_inode(): `i_ino = kernfs_ino(kn)`, the id itself on 64-bit), so a walk of the
//! mounted hierarchy maps every id to its path. New cgroups are found by walking again when
//! an unknown id arrives; an id a walk did not find (a cgroup removed before it was seen)
//! gives `cgroup: null` and causes no other walk for [`MISS_RETRY`].
use std::{
    os::unix::fs::MetadataExt,
    sync::Arc,
    time::{Duration, Instant},
};

use foldhash::{HashMap, HashMapExt as _};

use crate::cgroup::{container_id::container_id, hierarchy::Hierarchy};
use crate::ingest::event::Place;
use crate::output::record::CgroupHierarchy;

/// How long an id a walk did not find causes no other walk.
const MISS_RETRY: Duration = Duration::from_secs(1);
/// Ids remembered as not found, at most (forgotten all at once beyond).
const MAX_MISSES: usize = 4096;
/// Bounds on a walk: cgroup trees are a few levels deep (the kernel's own limit is
/// cgroup.max.depth) and rarely more than thousands of directories.
const MAX_DEPTH: usize = 32;
const MAX_DIRS: usize = 100_000;

#[derive(Clone)]
struct Named {
    path: Arc<str>,
    container_id: Option<Arc<str>>,
}

pub struct Resolver {
    hierarchy: Option<Hierarchy>,
    by_id: HashMap<u64, Named>,
    /// Ids the last walks did not find, and when.
    misses: HashMap<u64, Instant>,
}

impl Resolver {
    pub fn new(hierarchy: Option<Hierarchy>) -> Self {
        let mut resolver = Resolver {
            hierarchy,
            by_id: HashMap::new(),
            misses: HashMap::new(),
        };
        resolver.walk();
        resolver
    }

    /// Fills `place.cgroup` and `place.container_id` from the id of the reported hierarchy.
    pub fn resolve(&mut self, place: &mut Place) {
        let Some(h) = &self.hierarchy else { return };
        let id = if h.version == 1 {
            place.cgroup_ids.v1
        } else {
            place.cgroup_ids.v2
        };
        if id == 0 {
            return;
        }
        if !self.by_id.contains_key(&id) && self.may_walk_for(id) {
            self.walk();
            if !self.by_id.contains_key(&id) {
                if self.misses.len() >= MAX_MISSES {
                    self.misses.clear();
                }
                self.misses.insert(id, Instant::now());
            }
        }
        if let Some(named) = self.by_id.get(&id) {
            place.cgroup = Some(named.path.clone());
            place.container_id = named.container_id.clone();
        }
    }

    /// The hierarchy's `start.cgroup_hierarchy`.
    pub fn hierarchy(&self) -> Option<CgroupHierarchy> {
        self.hierarchy.as_ref().map(|h| CgroupHierarchy {
            version: h.version,
            controller: h.controller.clone(),
            mount: h.mount.display().to_string(),
        })
    }

    fn may_walk_for(&self, id: u64) -> bool {
        self.misses
            .get(&id)
            .is_none_or(|t| t.elapsed() >= MISS_RETRY)
    }

    fn walk(&mut self) {
        let Some(h) = &self.hierarchy else { return };
        let mut found = HashMap::new();
        let mut stack = vec![(h.mount.clone(), String::new(), 0usize)];
        while let Some((dir, rel, depth)) = stack.pop() {
            if found.len() >= MAX_DIRS {
                break;
            }
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            found.insert(meta.ino(), full_path(&h.root, &rel));
            if depth >= MAX_DEPTH {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    stack.push((entry.path(), format!("{rel}/{name}"), depth + 1));
                }
            }
        }
        for (id, path) in found {
            self.by_id.entry(id).or_insert_with(|| named(&path));
        }
    }
}

/// The path as /proc/PID/cgroup shows it: the mount's root, then the directories below.
fn full_path(root: &str, rel: &str) -> String {
    let root = root.trim_end_matches('/');
    match (root.is_empty(), rel.is_empty()) {
        (true, true) => "/".to_owned(),
        _ => format!("{root}{rel}"),
    }
}

fn named(path: &str) -> Named {
    Named {
        path: Arc::from(path),
        container_id: container_id(path).map(Arc::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_proc_shows_them() {
        assert_eq!(full_path("/", ""), "/");
        assert_eq!(full_path("/", "/a/b"), "/a/b");
        assert_eq!(full_path("/kubepods/pod1", "/c"), "/kubepods/pod1/c");
        assert_eq!(full_path("/kubepods/pod1", ""), "/kubepods/pod1");
    }

    /// The host's hierarchy: our own cgroup's id resolves to the path /proc/self/cgroup
    /// names.
    #[test]
    fn the_hosts_hierarchy_resolves_its_root() {
        let Some(h) = crate::cgroup::hierarchy::read() else {
            panic!("no cgroup hierarchy mounted on this host");
        };
        assert!(h.mount.exists());
        let root_ino = std::fs::metadata(&h.mount).expect("stat the mount").ino();
        let mut r = Resolver::new(Some(h.clone()));
        let mut place = Place::default();
        if h.version == 1 {
            place.cgroup_ids.v1 = root_ino;
        } else {
            place.cgroup_ids.v2 = root_ino;
        }
        r.resolve(&mut place);
        assert_eq!(
            place.cgroup.as_deref(),
            Some(full_path(&h.root, "").as_str())
        );
        assert_eq!(place.container_id, None);
    }
}
