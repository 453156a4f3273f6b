//! Where a process lives: its cgroup path (resolved from the cgroup id the kernel programs
//! send) and the container it belongs to (parsed from that path).
pub mod container_id;
pub mod hierarchy;
pub mod resolve;
