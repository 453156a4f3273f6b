//! The kernel programs are the binary target; this empty library lets `tracer` name the
//! package as a build-dependency (aya-template layout), so cargo rebuilds on changes.
#![no_std]
