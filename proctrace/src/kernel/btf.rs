//! Struct member offsets from the running kernel's BTF.
//!
//! The eBPF programs are built with Rust, which emits no CO-RE relocations, so every
//! `task_struct`/`signal_struct`/... offset they use is looked up here at load time and handed
//! over in [`proctrace_common::Config`]. The layouts change between kernel versions and configs
//! (and `task_struct` is randomizable with CONFIG_RANDSTRUCT), so nothing may be hard-coded.

use std::{
    io,
    path::{Path, PathBuf},
};

use btf_rs::{Backend, Btf, Member, Struct, Type};
use thiserror::Error;

/// Where the kernel exposes its own BTF (kernel/bpf/sysfs_btf.c, CONFIG_DEBUG_INFO_BTF).
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Bounds the walks over type chains and anonymous members, so malformed BTF (a cycle) gives an
/// error instead of a hang or stack overflow. Real chains are a handful of hops.
const MAX_DEPTH: usize = 32;

/// Errors of this module.
#[derive(Debug, Error)]
pub enum BtfError {
    #[error("kernel BTF not found at {} (CONFIG_DEBUG_INFO_BTF=y is required)", path.display())]
    NotFound { path: PathBuf },
    #[error("cannot load BTF from {}: {source}", path.display())]
    Load {
        path: PathBuf,
        #[source]
        source: btf_rs::Error,
    },
    #[error("BTF has no struct or union named {0:?}")]
    StructNotFound(String),
    #[error("struct {struct_name} has no member {member:?}")]
    MemberNotFound { struct_name: String, member: String },
    #[error("{struct_name}.{member} is a bitfield, it has no byte offset")]
    Bitfield { struct_name: String, member: String },
    #[error(
        "{struct_name}.{member} is a {kind}, not an embedded struct, union or array of them: \
         cannot look inside it"
    )]
    NotEmbedded {
        struct_name: String,
        member: String,
        kind: &'static str,
    },
    #[error("BTF has several definitions of {struct_name} that disagree on {what}")]
    Ambiguous { struct_name: String, what: String },
    #[error("{struct_name}.{member}: offset does not fit in 32 bits")]
    Overflow { struct_name: String, member: String },
    #[error("malformed BTF while resolving {what}: {reason}")]
    Malformed { what: String, reason: String },
}

/// What [`crate::kernel::offsets`] needs from BTF; a trait so it can be tested without a kernel.
pub trait MemberLookup {
    /// See [`member_offset`].
    fn member_offset(&self, struct_name: &str, member_path: &str) -> Result<u32, BtfError>;
    /// See [`struct_size`].
    fn struct_size(&self, struct_name: &str) -> Result<u32, BtfError>;
    /// See [`array_member`].
    fn array_member(&self, struct_name: &str, member: &str) -> Result<Option<Array>, BtfError>;
    /// See [`enum_value`].
    fn enum_value(&self, enum_name: &str, member: &str) -> Result<Option<u32>, BtfError>;
}

/// An array member's element size and length, in bytes and elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array {
    pub elem_size: u32,
    pub len: u32,
}

impl MemberLookup for Btf {
    fn member_offset(&self, struct_name: &str, member_path: &str) -> Result<u32, BtfError> {
        member_offset(self, struct_name, member_path)
    }

    fn struct_size(&self, struct_name: &str) -> Result<u32, BtfError> {
        struct_size(self, struct_name)
    }

    fn array_member(&self, struct_name: &str, member: &str) -> Result<Option<Array>, BtfError> {
        array_member(self, struct_name, member)
    }

    fn enum_value(&self, enum_name: &str, member: &str) -> Result<Option<u32>, BtfError> {
        enum_value(self, enum_name, member)
    }
}

/// BTF with the structs already looked up kept: finding a type by name in lazily parsed BTF
/// walks its types (about 10 ms here), and offsets.rs asks for members of task_struct and
/// signal_struct dozens of times (without it, start-up took 0.35 s longer).
pub struct CachedBtf {
    btf: Btf,
    structs: std::cell::RefCell<std::collections::HashMap<String, Vec<Struct>>>,
}

impl CachedBtf {
    pub fn new(btf: Btf) -> Self {
        CachedBtf {
            btf,
            structs: Default::default(),
        }
    }

    fn structs(&self, name: &str) -> Result<Vec<Struct>, BtfError> {
        if let Some(found) = self.structs.borrow().get(name) {
            return Ok(found.clone());
        }
        let found = find_structs(&self.btf, name)?;
        self.structs
            .borrow_mut()
            .insert(name.to_owned(), found.clone());
        Ok(found)
    }
}

impl MemberLookup for CachedBtf {
    fn member_offset(&self, struct_name: &str, member_path: &str) -> Result<u32, BtfError> {
        member_offset_in(
            &self.btf,
            &self.structs(struct_name)?,
            struct_name,
            member_path,
        )
    }

    fn struct_size(&self, struct_name: &str) -> Result<u32, BtfError> {
        struct_size_of(&self.structs(struct_name)?, struct_name)
    }

    fn array_member(&self, struct_name: &str, member: &str) -> Result<Option<Array>, BtfError> {
        array_member_in(&self.btf, &self.structs(struct_name)?, struct_name, member)
    }

    fn enum_value(&self, enum_name: &str, member: &str) -> Result<Option<u32>, BtfError> {
        enum_value(&self.btf, enum_name, member)
    }
}

/// Loads BTF from `path` (normally [`VMLINUX_BTF`]).
///
/// Always through a mapping, which btf-rs parses lazily: only the types we ask for, about
/// 8 ms and little memory, where reading it parses every type (about 65 ms and tens of MB;
/// btf-rs's plain file reader is worse still: one lseek per type, about 127,000 calls, which
/// under emulation costs seconds). Newer kernels let us map the sysfs file itself
/// (btf_sysfs_vmlinux_mmap in kernel/bpf/sysfs_btf.c: our 6.18 host, the 7.3 guest); on
/// older ones (6.1, 6.12) it is read once and mapped from a memfd copy.
pub fn open(path: &Path) -> Result<Btf, BtfError> {
    match Btf::from_file_with_backend(path, Backend::Mmap) {
        Ok(btf) => return Ok(btf),
        Err(btf_rs::Error::IO(e)) if e.kind() == io::ErrorKind::NotFound => {
            return Err(BtfError::NotFound {
                path: path.to_owned(),
            })
        }
        // Not mappable (an older kernel) or a mapping btf-rs rejected: copy it.
        Err(_) => {}
    }
    let load_error = |source| BtfError::Load {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => BtfError::NotFound {
            path: path.to_owned(),
        },
        _ => load_error(btf_rs::Error::IO(e)),
    })?;
    match map_copy(&bytes) {
        Ok(btf) => Ok(btf),
        // No memfd (or no /proc to name it): parse from memory, slower but equivalent.
        Err(btf_rs::Error::IO(_)) => Btf::from_bytes(&bytes).map_err(load_error),
        Err(e) => Err(load_error(e)),
    }
}

/// `bytes` copied into a memfd and mapped from there (btf-rs maps only named files).
fn map_copy(bytes: &[u8]) -> Result<Btf, btf_rs::Error> {
    use std::{io::Write as _, os::fd::FromRawFd as _};
    // SAFETY: a NUL-terminated name and valid flags; the fd is owned by `file` below.
    let fd = unsafe { libc::memfd_create(c"proctrace-btf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error().into());
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    // The mapping keeps the memfd's pages after `file` is closed.
    Btf::from_file_with_backend(format!("/proc/self/fd/{fd}"), Backend::Mmap)
}

/// Byte offset of `member_path` in `struct struct_name` (or union).
///
/// Members of anonymous structs/unions are found as if they were direct members, as C does
/// (e.g. `mm_struct::arg_start`: include/linux/mm_types.h wraps most of mm_struct in an
/// anonymous `struct { ... } __randomize_layout` so that `cpu_bitmap[]` can follow it). A dotted path (`action.sa.sa_handler`) descends into embedded struct/union members; an
/// array member on the way is entered at element 0 (`action` is `struct k_sigaction[_NSIG]`).
/// Pointers are not followed: the target lives elsewhere in memory. Bitfields are an error.
pub fn member_offset(btf: &Btf, struct_name: &str, member_path: &str) -> Result<u32, BtfError> {
    member_offset_in(
        btf,
        &find_structs(btf, struct_name)?,
        struct_name,
        member_path,
    )
}

fn member_offset_in(
    btf: &Btf,
    structs: &[Struct],
    struct_name: &str,
    member_path: &str,
) -> Result<u32, BtfError> {
    let mut found: Option<u32> = None;
    let mut first_err = None;
    // Several types may share a name (a struct and a same-named union, or structs private to
    // different compilation units). Accept them if they agree.
    for s in structs {
        match resolve_path(btf, struct_name, s, member_path) {
            Ok(off) => match found {
                Some(prev) if prev != off => {
                    return Err(BtfError::Ambiguous {
                        struct_name: struct_name.to_owned(),
                        what: format!("the offset of {member_path} ({prev} vs {off})"),
                    })
                }
                _ => found = Some(off),
            },
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match (found, first_err) {
        (Some(off), _) => Ok(off),
        (None, Some(e)) => Err(e),
        // find_structs never returns an empty list.
        (None, None) => Err(BtfError::StructNotFound(struct_name.to_owned())),
    }
}

/// `sizeof(struct name)` (or union).
pub fn struct_size(btf: &Btf, name: &str) -> Result<u32, BtfError> {
    struct_size_of(&find_structs(btf, name)?, name)
}

fn struct_size_of(structs: &[Struct], name: &str) -> Result<u32, BtfError> {
    let mut size: Option<usize> = None;
    for s in structs {
        match size {
            Some(prev) if prev != s.size() => {
                return Err(BtfError::Ambiguous {
                    struct_name: name.to_owned(),
                    what: format!("the size ({prev} vs {})", s.size()),
                })
            }
            _ => size = Some(s.size()),
        }
    }
    let size = size.ok_or_else(|| BtfError::StructNotFound(name.to_owned()))?;
    u32::try_from(size).map_err(|_| BtfError::Malformed {
        what: format!("sizeof({name})"),
        reason: format!("size {size} does not fit in 32 bits"),
    })
}

/// The element size and length of `struct_name.member` when it is an array (through
/// typedefs), `None` when it is not: how `mm_struct.rss_stat` tells `percpu_counter[]` (6.2+)
/// from `struct mm_rss_stat` (before). The first definition of the struct decides.
pub fn array_member(btf: &Btf, struct_name: &str, member: &str) -> Result<Option<Array>, BtfError> {
    array_member_in(btf, &find_structs(btf, struct_name)?, struct_name, member)
}

fn array_member_in(
    btf: &Btf,
    structs: &[Struct],
    struct_name: &str,
    member: &str,
) -> Result<Option<Array>, BtfError> {
    let what = format!("{struct_name}.{member}");
    let Some(s) = structs.first() else {
        return Err(BtfError::StructNotFound(struct_name.to_owned()));
    };
    let Some((m, _)) = find_member(btf, s, member, &what, 0)? else {
        return Err(BtfError::MemberNotFound {
            struct_name: struct_name.to_owned(),
            member: member.to_owned(),
        });
    };
    let Type::Array(a) = member_type(btf, &m, &what)? else {
        return Ok(None);
    };
    let elem = btf
        .resolve_chained_type(&a)
        .map_err(|e| malformed(&what, e))?;
    let elem_size = match strip_modifiers(btf, elem, &what)? {
        Type::Struct(s) | Type::Union(s) => s.size(),
        Type::Int(i) => i.size(),
        Type::Enum(e) => e.size(),
        Type::Ptr(_) => 8,
        other => {
            return Err(BtfError::Malformed {
                what,
                reason: format!("array of {} has no known size", other.name()),
            })
        }
    };
    let fits = |v: usize| {
        u32::try_from(v).map_err(|_| BtfError::Overflow {
            struct_name: struct_name.to_owned(),
            member: member.to_owned(),
        })
    };
    Ok(Some(Array {
        elem_size: fits(elem_size)?,
        len: fits(a.len())?,
    }))
}

/// The value of `member` in `enum enum_name`, `None` when the enum or the member is not there
/// (e.g. `cgroup_subsys_id`'s `pids_cgrp_id` without CONFIG_CGROUP_PIDS: the enum lists the
/// controllers built in, include/linux/cgroup_subsys.h).
pub fn enum_value(btf: &Btf, enum_name: &str, member: &str) -> Result<Option<u32>, BtfError> {
    let what = format!("enum {enum_name}");
    // btf-rs reports an unknown name as an error; an enum that is not there is an answer.
    let Ok(types) = btf.resolve_types_by_name(enum_name) else {
        return Ok(None);
    };
    for ty in types {
        let Type::Enum(e) = ty else { continue };
        for m in &e.members {
            if btf.resolve_name(m).map_err(|err| malformed(&what, err))? == member {
                return Ok(Some(m.val()));
            }
        }
    }
    Ok(None)
}

fn malformed(what: impl Into<String>, e: btf_rs::Error) -> BtfError {
    BtfError::Malformed {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// All structs and unions named `name` (forward declarations and typedefs are skipped).
fn find_structs(btf: &Btf, name: &str) -> Result<Vec<Struct>, BtfError> {
    let types = btf
        .resolve_types_by_name(name)
        .map_err(|e| malformed(format!("struct {name}"), e))?;
    let structs: Vec<Struct> = types
        .into_iter()
        .filter_map(|t| match t {
            Type::Struct(s) | Type::Union(s) => Some(s),
            _ => None,
        })
        .collect();
    if structs.is_empty() {
        return Err(BtfError::StructNotFound(name.to_owned()));
    }
    Ok(structs)
}

/// Resolves `ty` through typedefs and qualifiers, which do not change the layout.
fn strip_modifiers(btf: &Btf, mut ty: Type, what: &str) -> Result<Type, BtfError> {
    for _ in 0..MAX_DEPTH {
        ty = match &ty {
            Type::Typedef(t) => btf.resolve_chained_type(t),
            Type::Volatile(t) | Type::Const(t) | Type::Restrict(t) => btf.resolve_chained_type(t),
            Type::TypeTag(t) => btf.resolve_chained_type(t),
            _ => return Ok(ty),
        }
        .map_err(|e| malformed(what, e))?;
    }
    Err(BtfError::Malformed {
        what: what.to_owned(),
        reason: "typedef/qualifier chain too long".to_owned(),
    })
}

fn member_type(btf: &Btf, m: &Member, what: &str) -> Result<Type, BtfError> {
    let ty = btf
        .resolve_chained_type(m)
        .map_err(|e| malformed(what, e))?;
    strip_modifiers(btf, ty, what)
}

/// Finds `name` in `s`, looking through anonymous struct/union members. Returns the member and
/// its bit offset from the start of `s`.
fn find_member(
    btf: &Btf,
    s: &Struct,
    name: &str,
    what: &str,
    depth: usize,
) -> Result<Option<(Member, u64)>, BtfError> {
    if depth > MAX_DEPTH {
        return Err(BtfError::Malformed {
            what: what.to_owned(),
            reason: "anonymous members nested too deeply".to_owned(),
        });
    }
    let mut anonymous = Vec::new();
    for m in &s.members {
        let m_name = btf.resolve_name(m).map_err(|e| malformed(what, e))?;
        if m_name == name {
            return Ok(Some((m.clone(), u64::from(m.bit_offset()))));
        }
        if m_name.is_empty() {
            anonymous.push(m);
        }
    }
    // C requires member names to be unique across the flattened anonymous members, so the
    // first hit is the only one. Unnamed padding bitfields (`int :3`) are not composites and
    // are skipped.
    for m in anonymous {
        if let Type::Struct(inner) | Type::Union(inner) = member_type(btf, m, what)? {
            if let Some((found, bits)) = find_member(btf, &inner, name, what, depth + 1)? {
                return Ok(Some((found, bits + u64::from(m.bit_offset()))));
            }
        }
    }
    Ok(None)
}

fn resolve_path(
    btf: &Btf,
    struct_name: &str,
    s: &Struct,
    member_path: &str,
) -> Result<u32, BtfError> {
    let not_found = |member: &str| BtfError::MemberNotFound {
        struct_name: struct_name.to_owned(),
        member: member.to_owned(),
    };
    let what = format!("{struct_name}.{member_path}");
    let components: Vec<&str> = member_path.split('.').collect();
    let mut current = s.clone();
    let mut bits: u64 = 0;
    for (i, component) in components.iter().enumerate() {
        // The path up to here, for messages: `action.sa` rather than `sa`.
        let prefix = components[..=i].join(".");
        if component.is_empty() {
            return Err(not_found(member_path));
        }
        let (m, m_bits) =
            find_member(btf, &current, component, &what, 0)?.ok_or_else(|| not_found(&prefix))?;
        // kind_flag=1 structs give the bitfield width explicitly; with kind_flag=0 a bitfield
        // shows as a bit offset that is not byte aligned (Documentation/bpf/btf.rst,
        // "BTF_KIND_STRUCT"). btf-rs does not expose the INT bits of the older encoding, but
        // pahole emits kind_flag=1 for every struct with bitfields.
        if m.bitfield_size().is_some_and(|b| b != 0) || m_bits % 8 != 0 {
            return Err(BtfError::Bitfield {
                struct_name: struct_name.to_owned(),
                member: prefix,
            });
        }
        bits += m_bits;
        if i + 1 == components.len() {
            break;
        }
        current = match member_type(btf, &m, &what)? {
            Type::Struct(inner) | Type::Union(inner) => inner,
            Type::Array(a) => {
                // Element 0 is at the array's own offset; descend into its element type.
                let elem = btf
                    .resolve_chained_type(&a)
                    .map_err(|e| malformed(&what, e))?;
                match strip_modifiers(btf, elem, &what)? {
                    Type::Struct(inner) | Type::Union(inner) => inner,
                    other => {
                        return Err(BtfError::NotEmbedded {
                            struct_name: struct_name.to_owned(),
                            member: prefix,
                            kind: other.name(),
                        })
                    }
                }
            }
            other => {
                return Err(BtfError::NotEmbedded {
                    struct_name: struct_name.to_owned(),
                    member: prefix,
                    kind: other.name(),
                })
            }
        };
    }
    u32::try_from(bits / 8).map_err(|_| BtfError::Overflow {
        struct_name: struct_name.to_owned(),
        member: member_path.to_owned(),
    })
}

/// Fake lookups' member offsets from a table, for the offset builders' unit tests.
#[cfg(test)]
pub(crate) fn member_in_table(
    members: &std::collections::HashMap<(&'static str, &'static str), u32>,
    s: &str,
    m: &str,
) -> Result<u32, BtfError> {
    members
        .iter()
        .find(|((fs, fm), _)| *fs == s && *fm == m)
        .map(|(_, off)| *off)
        .ok_or_else(|| BtfError::MemberNotFound {
            struct_name: s.to_owned(),
            member: m.to_owned(),
        })
}

/// A minimal BTF writer for tests (include/uapi/linux/btf.h layout, little endian).
#[cfg(test)]
pub(crate) mod test_btf {
    const KIND_INT: u32 = 1;
    const KIND_PTR: u32 = 2;
    const KIND_ARRAY: u32 = 3;
    const KIND_STRUCT: u32 = 4;
    const KIND_UNION: u32 = 5;
    const KIND_TYPEDEF: u32 = 8;
    const KIND_CONST: u32 = 10;

    pub struct Encoder {
        types: Vec<u8>,
        strings: Vec<u8>,
        next_id: u32,
    }

    /// A struct/union member: name ("" for anonymous), type id, offset in bits, and bitfield
    /// width (0 for none; only representable with `kind_flag`).
    pub struct M<'a>(pub &'a str, pub u32, pub u32, pub u32);

    impl Encoder {
        pub fn new() -> Self {
            Self {
                types: Vec::new(),
                // Offset 0 is the empty string: the name of anonymous types and members.
                strings: vec![0],
                next_id: 1,
            }
        }

        fn u32(&mut self, v: u32) {
            self.types.extend_from_slice(&v.to_le_bytes());
        }

        fn string(&mut self, s: &str) -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(s.as_bytes());
            self.strings.push(0);
            off
        }

        fn header(
            &mut self,
            name: &str,
            kind: u32,
            vlen: u32,
            kind_flag: bool,
            size_type: u32,
        ) -> u32 {
            let name_off = self.string(name);
            self.u32(name_off);
            self.u32((u32::from(kind_flag) << 31) | (kind << 24) | vlen);
            self.u32(size_type);
            let id = self.next_id;
            self.next_id += 1;
            id
        }

        pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
            let id = self.header(name, KIND_INT, 0, false, size);
            self.u32((u32::from(signed) << 24) | (size * 8));
            id
        }

        pub fn ptr(&mut self, target: u32) -> u32 {
            self.header("", KIND_PTR, 0, false, target)
        }

        pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
            self.header(name, KIND_TYPEDEF, 0, false, target)
        }

        pub fn konst(&mut self, target: u32) -> u32 {
            self.header("", KIND_CONST, 0, false, target)
        }

        pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
            let id = self.header("", KIND_ARRAY, 0, false, 0);
            self.u32(elem);
            self.u32(index);
            self.u32(len);
            id
        }

        fn composite(&mut self, kind: u32, name: &str, size: u32, members: &[M]) -> u32 {
            let kind_flag = members.iter().any(|m| m.3 != 0);
            let id = self.header(name, kind, members.len() as u32, kind_flag, size);
            for M(m_name, ty, bits, width) in members {
                let name_off = self.string(m_name);
                self.u32(name_off);
                self.u32(*ty);
                self.u32(if kind_flag {
                    (width << 24) | bits
                } else {
                    *bits
                });
            }
            id
        }

        pub fn structure(&mut self, name: &str, size: u32, members: &[M]) -> u32 {
            self.composite(KIND_STRUCT, name, size, members)
        }

        pub fn union(&mut self, name: &str, size: u32, members: &[M]) -> u32 {
            self.composite(KIND_UNION, name, size, members)
        }

        pub fn finish(self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&0xeb9f_u16.to_le_bytes());
            out.push(1); // version
            out.push(0); // flags
            let type_len = self.types.len() as u32;
            for v in [24, 0, type_len, type_len, self.strings.len() as u32] {
                out.extend_from_slice(&u32::to_le_bytes(v));
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strings);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_btf::{Encoder, M};
    use super::*;

    /// ```c
    /// struct sigact { int *handler; unsigned long flags; };          // 16
    /// struct ksig { unsigned long pad; struct sigact sa; };          // 24
    /// struct inner { int x; int y; }; typedef struct inner inner_t;  // 8
    /// struct test_struct {                                           // 136
    ///     int pid;                                   // 0
    ///     int flags:3;                               // bitfield at byte 4
    ///     int :5;                                    // unnamed padding
    ///     struct { unsigned long arg_start, arg_end; };                 // 8, 16
    ///     union { unsigned long u_long; int *u_ptr;
    ///             struct { int pad; int deep; }; };                     // 24, 24, 28
    ///     int vals[4];                               // 32
    ///     int *ptr;                                  // 48
    ///     struct ksig action[3];                     // 56
    ///     const inner_t in;                          // 128
    /// };
    /// struct legacy { int a; int odd; /* at bit 3, kind_flag = 0 */ };
    /// struct dup { int m; };  struct dup { int z; int m; };  union dup { int m; };
    /// ```
    fn sample() -> Btf {
        let mut e = Encoder::new();
        let int = e.int("int", 4, true);
        let ulong = e.int("unsigned long", 8, false);
        let pint = e.ptr(int);
        let anon_s = e.structure(
            "",
            16,
            &[M("arg_start", ulong, 0, 0), M("arg_end", ulong, 64, 0)],
        );
        let anon_deep = e.structure("", 8, &[M("pad", int, 0, 0), M("deep", int, 32, 0)]);
        let anon_u = e.union(
            "",
            8,
            &[
                M("u_long", ulong, 0, 0),
                M("u_ptr", pint, 0, 0),
                M("", anon_deep, 0, 0),
            ],
        );
        let vals = e.array(int, int, 4);
        let sigact = e.structure(
            "sigact",
            16,
            &[M("handler", pint, 0, 0), M("flags", ulong, 64, 0)],
        );
        let ksig = e.structure("ksig", 24, &[M("pad", ulong, 0, 0), M("sa", sigact, 64, 0)]);
        let action = e.array(ksig, int, 3);
        let inner = e.structure("inner", 8, &[M("x", int, 0, 0), M("y", int, 32, 0)]);
        let inner_t = e.typedef("inner_t", inner);
        let const_inner = e.konst(inner_t);
        e.structure(
            "test_struct",
            136,
            &[
                M("pid", int, 0, 0),
                M("flags", int, 32, 3),
                M("", int, 35, 5),
                M("", anon_s, 64, 0),
                M("", anon_u, 192, 0),
                M("vals", vals, 256, 0),
                M("ptr", pint, 384, 0),
                M("action", action, 448, 0),
                M("in", const_inner, 1024, 0),
            ],
        );
        e.structure("legacy", 8, &[M("a", int, 0, 0), M("odd", int, 3, 0)]);
        e.structure("dup", 4, &[M("m", int, 0, 0)]);
        e.structure("dup", 8, &[M("z", int, 0, 0), M("m", int, 32, 0)]);
        e.union("dup", 4, &[M("m", int, 0, 0)]);
        e.structure("same", 4, &[M("m", int, 0, 0)]);
        e.structure("same", 4, &[M("m", int, 0, 0)]);
        match Btf::from_bytes(&e.finish()) {
            Ok(btf) => btf,
            Err(err) => panic!("test BTF does not parse: {err}"),
        }
    }

    fn off(btf: &Btf, s: &str, m: &str) -> u32 {
        match member_offset(btf, s, m) {
            Ok(v) => v,
            Err(e) => panic!("{s}.{m}: {e}"),
        }
    }

    #[test]
    fn named_members() {
        let btf = sample();
        assert_eq!(off(&btf, "test_struct", "pid"), 0);
        assert_eq!(off(&btf, "test_struct", "vals"), 32);
        assert_eq!(off(&btf, "test_struct", "ptr"), 48);
        assert_eq!(off(&btf, "test_struct", "action"), 56);
        assert_eq!(off(&btf, "ksig", "sa"), 8);
        assert_eq!(off(&btf, "sigact", "flags"), 8);
    }

    #[test]
    fn anonymous_struct_member() {
        let btf = sample();
        assert_eq!(off(&btf, "test_struct", "arg_start"), 8);
        assert_eq!(off(&btf, "test_struct", "arg_end"), 16);
    }

    #[test]
    fn anonymous_union_member() {
        let btf = sample();
        assert_eq!(off(&btf, "test_struct", "u_long"), 24);
        assert_eq!(off(&btf, "test_struct", "u_ptr"), 24);
        // Anonymous struct inside an anonymous union.
        assert_eq!(off(&btf, "test_struct", "deep"), 28);
    }

    #[test]
    fn dotted_paths() {
        let btf = sample();
        // Array entered at element 0, then two embedded structs.
        assert_eq!(off(&btf, "test_struct", "action.sa.handler"), 56 + 8);
        assert_eq!(off(&btf, "test_struct", "action.sa.flags"), 56 + 8 + 8);
        // Through a const typedef.
        assert_eq!(off(&btf, "test_struct", "in.y"), 132);
        assert!(matches!(
            member_offset(&btf, "test_struct", "ptr.x"),
            Err(BtfError::NotEmbedded { kind: "ptr", .. })
        ));
        assert!(matches!(
            member_offset(&btf, "test_struct", "vals.x"),
            Err(BtfError::NotEmbedded { kind: "int", .. })
        ));
    }

    #[test]
    fn missing_members_and_structs() {
        let btf = sample();
        match member_offset(&btf, "test_struct", "nope") {
            Err(e @ BtfError::MemberNotFound { .. }) => {
                assert_eq!(e.to_string(), "struct test_struct has no member \"nope\"");
            }
            other => panic!("expected MemberNotFound, got {other:?}"),
        }
        match member_offset(&btf, "test_struct", "action.sa.nope") {
            Err(BtfError::MemberNotFound { member, .. }) => assert_eq!(member, "action.sa.nope"),
            other => panic!("expected MemberNotFound, got {other:?}"),
        }
        for path in ["", ".", "pid.", "action..sa"] {
            assert!(
                matches!(
                    member_offset(&btf, "test_struct", path),
                    Err(BtfError::MemberNotFound { .. }) | Err(BtfError::NotEmbedded { .. })
                ),
                "{path:?}"
            );
        }
        assert!(matches!(
            member_offset(&btf, "no_such_struct", "pid"),
            Err(BtfError::StructNotFound(_))
        ));
        // A typedef name is not a struct name.
        assert!(matches!(
            member_offset(&btf, "inner_t", "x"),
            Err(BtfError::StructNotFound(_))
        ));
        assert!(matches!(
            struct_size(&btf, "nope"),
            Err(BtfError::StructNotFound(_))
        ));
    }

    #[test]
    fn bitfields_are_errors() {
        let btf = sample();
        assert!(matches!(
            member_offset(&btf, "test_struct", "flags"),
            Err(BtfError::Bitfield { .. })
        ));
        // kind_flag = 0 encoding: only the unaligned bit offset tells.
        assert!(matches!(
            member_offset(&btf, "legacy", "odd"),
            Err(BtfError::Bitfield { .. })
        ));
        assert_eq!(off(&btf, "legacy", "a"), 0);
    }

    #[test]
    fn sizes() {
        let btf = sample();
        assert_eq!(struct_size(&btf, "test_struct").ok(), Some(136));
        assert_eq!(struct_size(&btf, "ksig").ok(), Some(24));
        assert_eq!(struct_size(&btf, "same").ok(), Some(4));
        assert!(matches!(
            struct_size(&btf, "dup"),
            Err(BtfError::Ambiguous { .. })
        ));
    }

    #[test]
    fn duplicate_names() {
        let btf = sample();
        assert!(matches!(
            member_offset(&btf, "dup", "m"),
            Err(BtfError::Ambiguous { .. })
        ));
        // Only one `dup` has `z`.
        assert_eq!(off(&btf, "dup", "z"), 0);
        assert_eq!(off(&btf, "same", "m"), 0);
    }

    #[test]
    fn trait_matches_free_functions() {
        let btf = sample();
        let lookup: &dyn MemberLookup = &btf;
        assert_eq!(
            lookup.member_offset("test_struct", "arg_end").ok(),
            Some(16)
        );
        assert_eq!(lookup.struct_size("ksig").ok(), Some(24));
    }

    #[test]
    fn open_errors() {
        let missing = Path::new("/nonexistent/btf/vmlinux");
        match open(missing) {
            Err(e @ BtfError::NotFound { .. }) => assert_eq!(
                e.to_string(),
                "kernel BTF not found at /nonexistent/btf/vmlinux (CONFIG_DEBUG_INFO_BTF=y is \
                 required)"
            ),
            Err(e) => panic!("expected NotFound, got {e:?}"),
            Ok(_) => panic!("expected NotFound"),
        }
        let garbage = std::env::temp_dir().join(format!("proctrace-btf-{}", std::process::id()));
        std::fs::write(&garbage, b"not btf at all").expect("write temp file");
        let res = open(&garbage);
        let _ = std::fs::remove_file(&garbage);
        assert!(matches!(res, Err(BtfError::Load { .. })));
    }

    /// The only test that reads the host: skipped (with a message) without kernel BTF.
    #[test]
    fn real_vmlinux() {
        if !Path::new(VMLINUX_BTF).exists() {
            eprintln!("real_vmlinux: skipped, {VMLINUX_BTF} does not exist");
            return;
        }
        let btf = match open(Path::new(VMLINUX_BTF)) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let pid = off(&btf, "task_struct", "pid");
        // `pid_t pid; pid_t tgid;` are adjacent in every kernel (include/linux/sched.h) and
        // outside the randomized part.
        assert_eq!(off(&btf, "task_struct", "tgid"), pid + 4);
        let size = struct_size(&btf, "task_struct").expect("sizeof(task_struct)");
        for m in [
            "real_parent",
            "group_leader",
            "comm",
            "exit_code",
            "exit_signal",
            "signal",
            "sighand",
            "mm",
            "ptrace",
        ] {
            assert!(off(&btf, "task_struct", m) < size, "task_struct.{m}");
        }
        assert!(
            member_offset(&btf, "task_struct", "start_boottime").is_ok()
                || member_offset(&btf, "task_struct", "real_start_time").is_ok()
        );
        // In mm_struct's anonymous struct (include/linux/mm_types.h).
        let arg_start = off(&btf, "mm_struct", "arg_start");
        assert_eq!(off(&btf, "mm_struct", "arg_end"), arg_start + 8);
        let handler = off(&btf, "sighand_struct", "action")
            + off(&btf, "k_sigaction", "sa")
            + off(&btf, "sigaction", "sa_handler");
        assert_eq!(off(&btf, "sighand_struct", "action.sa.sa_handler"), handler);
        // The full set that offsets.rs asks for resolves on this kernel.
        let formats = crate::kernel::offsets::fixture_formats_6_18();
        let (config, report) = match crate::kernel::offsets::config_from(&formats, &btf) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(config.sighand_action, handler);
        assert!(config.sigaction_size >= 16);
        // Every way of loading (the sysfs file mapped, a memfd copy mapped on older
        // kernels, all of it parsed from memory) gives the same offsets.
        let bytes = std::fs::read(VMLINUX_BTF).expect("read vmlinux BTF");
        let copies = [
            map_copy(&bytes).expect("memfd copy of vmlinux BTF"),
            Btf::from_bytes(&bytes).expect("vmlinux BTF from memory"),
        ];
        for other in &copies {
            match crate::kernel::offsets::config_from(&formats, other) {
                Ok((c, _)) => assert_eq!(format!("{c:?}"), format!("{config:?}")),
                Err(e) => panic!("{e}"),
            }
        }
        eprintln!("real_vmlinux: {config:?}\n{report:?}");

        // Where a process lives: every member is there (CONFIG_CGROUPS, CONFIG_PID_NS), and
        // the v1 slot of a built-in controller is inside css_set.subsys[].
        let mut c = config;
        let place = crate::kernel::place_offsets::fill(&mut c, &btf, Some("pids"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(place.missing, Vec::<String>::new());
        assert_eq!(place.v1_controller.as_deref(), Some("pids"));
        let subsys = off(&btf, "css_set", "subsys");
        assert!(c.css_set_v1_css > subsys && c.css_set_v1_css < c.css_set_dfl_cgrp);
        assert_eq!(c.upid_size, 16);
        // include/linux/cgroup_subsys.h lists cpuset first.
        assert_eq!(
            enum_value(&btf, "cgroup_subsys_id", "cpuset_cgrp_id").expect("enum"),
            Some(0)
        );
        assert_eq!(
            enum_value(&btf, "cgroup_subsys_id", "no_such_cgrp_id").expect("enum"),
            None
        );
        assert_eq!(enum_value(&btf, "no_such_enum", "x").expect("enum"), None);
    }
}
