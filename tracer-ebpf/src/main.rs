//! proctrace kernel programs: one file per hook, thin entry points, every failure counted.
#![no_std]
// Host builds (`cargo test --workspace`, clippy) compile this crate too: only the bpf target
// has no `main`.
#![cfg_attr(target_arch = "bpf", no_main)]

mod config;
mod exec;
mod exit;
mod fork;
mod free;
mod maps;
mod release;
mod task;
mod wait;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in a verified program: the verifier rejects any path that could get here.
    loop {}
}

/// bpf_probe_read_kernel and bpf_probe_read_user are GPL-only helpers.
#[no_mangle]
#[link_section = "license"]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {}
