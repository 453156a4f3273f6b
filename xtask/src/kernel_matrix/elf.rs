//! Telling static from dynamic executables: the guests have no libc.

use std::{fs::File, io::Read, path::Path};

use anyhow::{Context as _, Result};

/// Whether the ELF file at `path` is statically linked (no PT_INTERP program header), as
/// the guests have no libc.
pub fn is_static(path: &Path) -> Result<bool> {
    let mut head = Vec::new();
    File::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .take(64 * 1024)
        .read_to_end(&mut head)?;
    elf_has_interp(&head)
        .map(|interp| !interp)
        .with_context(|| format!("{} is not a 64-bit little-endian ELF file", path.display()))
}

/// PT_INTERP among the program headers of a 64-bit little-endian ELF image's first bytes.
fn elf_has_interp(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |off: usize| {
        Some(u16::from_le_bytes(
            bytes.get(off..off + 2)?.try_into().ok()?,
        ))
    };
    let u32_at = |off: usize| {
        Some(u32::from_le_bytes(
            bytes.get(off..off + 4)?.try_into().ok()?,
        ))
    };
    let u64_at = |off: usize| {
        Some(u64::from_le_bytes(
            bytes.get(off..off + 8)?.try_into().ok()?,
        ))
    };
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    let phnum = usize::from(u16_at(0x38)?);
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf_header(with_interp: bool) -> Vec<u8> {
        let mut elf = vec![0u8; 64 + 2 * 56];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        elf[64..68].copy_from_slice(&6u32.to_le_bytes()); // PT_PHDR
        let second = if with_interp { 3u32 } else { 1 }; // PT_INTERP / PT_LOAD
        elf[120..124].copy_from_slice(&second.to_le_bytes());
        elf
    }

    #[test]
    fn tells_static_from_dynamic_elf() {
        assert_eq!(elf_has_interp(&elf_header(false)), Some(false));
        assert_eq!(elf_has_interp(&elf_header(true)), Some(true));
        assert_eq!(elf_has_interp(b"#!/bin/sh\n"), None);
        assert_eq!(elf_has_interp(&elf_header(true)[..100]), None);
    }
}
