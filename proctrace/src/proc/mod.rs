//! /proc: reading it (the start-up seed and the periodic checks), reconciling the engine
//! with what it shows, and making sure it shows the pids the kernel reports (namespace).
pub mod namespace;
pub mod reconcile;
pub mod scan;
