//! proctrace kernel programs: one file per hook, thin entry points, every failure counted.
#![no_std]
// `core::intrinsics::atomic_xadd` for the per-CPU counters (maps.rs); the bpf target is only
// ever built with nightly, the host build (a build-dependency of proctrace) with stable.
#![cfg_attr(target_arch = "bpf", allow(internal_features))]
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
// Host builds (`cargo test --workspace`, clippy) compile this crate too: only the bpf target
// has no `main`.
#![cfg_attr(target_arch = "bpf", no_main)]

mod config;
mod exec;
mod exit;
mod fork;
mod free;
mod maps;
mod place;
mod release;
mod task;
mod usage;
mod wait;
mod wait_note;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in a verified program: the verifier rejects any path that could get here.
    loop {}
}

/// The kernel programs are dual-licensed MIT or GPL-2.0 (see the crate's Cargo.toml): the
/// kernel takes "Dual MIT/GPL" as GPL-compatible (include/linux/license.h), which the GPL-only
/// helpers bpf_probe_read_kernel and bpf_probe_read_user need.
#[no_mangle]
#[link_section = "license"]
pub static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {}
