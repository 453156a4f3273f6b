//! Record filters (`--pid`, `--tree`, `--comm`, `--exe`, `--uid`, `--cgroup`, `--container`,
//! `--type`; README "Filters").
//!
//! They run in userspace on the records the engine made, just before they are written
//! (`Session::flush`, after the zombie diagnosis and the metrics): the engine still sees
//! every event, so the /proc checks and the zombie diagnosis (whose parent may be outside the
//! filter) are exactly those of an unfiltered run, and the metrics and the summary stay about
//! the whole host. `start`, `lost`, `proc_check` and `summary` records always pass.
//!
//! - `args`: the flags and their parsers; `glob`: the `--comm`/`--exe` patterns; `user`:
//!   user names to uids;
//! - `selector`: the pure per-record decision; `lineage`: what is remembered of each process
//!   between its records; `seed`: the processes /proc shows at start.
mod args;
mod glob;
mod lineage;
mod seed;
mod selector;
#[cfg(test)]
mod tests;
mod user;

pub use args::FilterArgs;
pub use lineage::SeedError;

use crate::{diag, output::record::Record, proc::reconcile::Snapshot};
use lineage::{Known, Lineage, MAX_ENTRIES};
use selector::{Criteria, Subject};

pub struct RecordFilter {
    criteria: Criteria,
    /// `None` when no flag needs it (only `--pid`, `--comm`, `--cgroup`, `--container`,
    /// `--type`: every record carries what they look at).
    lineage: Option<Lineage>,
    warned_full: bool,
}

impl RecordFilter {
    /// The filter the flags ask for; `None` without any filter flag.
    pub fn new(args: &FilterArgs) -> Option<RecordFilter> {
        let criteria = args.criteria()?;
        Some(RecordFilter::from_criteria(criteria, MAX_ENTRIES))
    }

    fn from_criteria(criteria: Criteria, max_entries: usize) -> RecordFilter {
        let lineage = criteria.needs_lineage().then(|| Lineage::new(max_entries));
        RecordFilter {
            criteria,
            lineage,
            warned_full: false,
        }
    }

    /// Adopts the processes of the start-up /proc read (before any record is filtered).
    pub fn seed(&mut self, snapshot: &Snapshot) -> Result<(), SeedError> {
        let Some(lineage) = &mut self.lineage else {
            return Ok(());
        };
        let wanted = seed::Wanted {
            exe: !self.criteria.exes.is_empty(),
            uid: !self.criteria.uids.is_empty(),
        };
        let procs = seed::entries(snapshot, wanted);
        lineage.seed(&procs, &self.criteria)
    }

    /// Drops the records the filters do not match, in place; every record updates what is
    /// known of its process first, whether it is kept or not.
    pub fn retain(&mut self, records: &mut Vec<Record>) {
        records.retain(|r| self.keeps(r));
        self.warn_if_full();
    }

    fn keeps(&mut self, record: &Record) -> bool {
        let Some(subject) = Subject::of(record) else {
            return true;
        };
        let known = match &mut self.lineage {
            Some(lineage) => lineage.observe(&subject, &self.criteria),
            None => Known::default(),
        };
        self.criteria.keeps(&subject, &known)
    }

    fn warn_if_full(&mut self) {
        let forgotten = self.lineage.as_ref().map_or(0, Lineage::forgotten);
        if forgotten > 0 && !self.warned_full {
            self.warned_full = true;
            diag::warn!(
                "filters: more than {MAX_ENTRIES} processes tracked (lost reaps?); the oldest \
                 are forgotten, and their later records match --tree, --exe and --uid no more"
            );
        }
    }
}
