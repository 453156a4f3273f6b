//! /proc: reading it (the start-up seed and the periodic checks) and reconciling the engine
//! with what it shows.
pub mod reconcile;
pub mod scan;
