use which::which;

/// Rebuild the kernel programs when bpf-linker changes (it is the linker for the bpf target,
/// so cargo does not track it by itself). Mirrors aya-template's eBPF build script.
fn main() {
    match which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(err) => println!("cargo:warning=bpf-linker not found ({err}); run `cargo xtask setup`"),
    }
}
