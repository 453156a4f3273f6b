//! Ingest: ring-buffer records (the wire types of proctrace-common) decoded into kernel events.
pub mod decode;
pub mod event;
