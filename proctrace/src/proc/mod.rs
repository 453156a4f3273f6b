//! /proc: reading it (the start-up seed and the periodic checks), reconciling the engine
//! with what it shows, making sure it shows the pids the kernel reports (namespace), and a
//! zombie's parent for the zombie diagnosis (parent).
pub mod namespace;
pub mod parent;
pub mod reconcile;
pub mod scan;
