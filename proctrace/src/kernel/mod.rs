//! The kernel side, seen from userspace: privileges, tracefs (mount, format files), BTF,
//! the offsets handed to the programs, loading and attaching them, their failure counters and
//! their run statistics, and the wait notes they keep.
/// A tracepoint format file of a real kernel, from proctrace/tests/data/formats/<kernel>/.
/// Defined before the modules: macro_rules are in scope for what follows them.
#[cfg(test)]
macro_rules! fixture {
    ($kernel:literal, $tp:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/formats/",
            $kernel,
            "/",
            $tp,
            ".format"
        ))
    };
}

pub mod btf;
pub mod counters;
pub mod explain;
pub mod loader;
pub mod offsets;
pub mod place_offsets;
pub mod privileges;
pub mod progstats;
pub mod tracefs;
pub mod tracefs_mount;
pub mod usage_offsets;
pub mod waiters;
