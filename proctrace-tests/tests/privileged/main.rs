//! Privileged integration tests: the real proctrace binary with its real kernel programs,
//! checked against processes the tests create (events filtered by the test's own process
//! tree). Run as root, single-threaded — part of `cargo xtask test`:
//! `cargo test -p tracer --test privileged -- --test-threads=1`.
//! A test that cannot load the programs fails; none of them skips.
mod common;
mod containers;
mod diagnosis;
mod edges;
mod errors;
mod exec_identity;
mod filters;
mod foundation;
mod lifecycle;
mod metrics;
mod mounts;
mod oci;
mod output_file;
mod place;
mod procfs;
mod reap_confirm;
mod reap_timing;
mod service;
mod stall;
mod startup;
mod text;
mod usage;
