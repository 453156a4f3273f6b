//! tracefs: reading tracepoint `format` files (tracefs_mount.rs makes sure it is mounted).
//!
//! The record layout of a classic tracepoint is not ABI: it is generated from the
//! `TP_STRUCT__entry` of the event (include/trace/events/*.h) and has changed between kernel
//! versions (e.g. `sched_process_fork` switched its comms from `char[16]` to `__data_loc`
//! strings, moving `child_pid` from offset 44 to 20). The kernel describes the layout of every
//! event in `events/<category>/<name>/format` (written by `f_show()` in
//! kernel/trace/trace_events.c), so the offsets handed to the eBPF programs are read from there.

use std::{
    collections::HashSet,
    fs, io,
    path::{Path, PathBuf},
};

use thiserror::Error;

/// Errors of this module.
#[derive(Debug, Error)]
pub enum TracefsError {
    #[error("invalid tracepoint name {category:?}:{name:?}")]
    InvalidName { category: String, name: String },
    #[error("tracepoint {category}:{name} does not exist on this kernel ({path} is missing)")]
    TracepointMissing {
        category: String,
        name: String,
        path: PathBuf,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
}

/// A `format` file that does not look like what `f_show()` (kernel/trace/trace_events.c)
/// writes.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("no `name:` line")]
    MissingName,
    #[error("no `ID:` line")]
    MissingId,
    #[error("no fields")]
    NoFields,
    #[error("line {line}: {reason}: {text:?}")]
    BadLine {
        line: usize,
        reason: &'static str,
        text: String,
    },
    #[error("field {0:?} appears twice")]
    DuplicateField(String),
}

/// How a field's bytes are to be interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A plain value (integer, pointer, bool) of `size` bytes at `offset`.
    Scalar,
    /// A fixed-size array, e.g. `char comm[16]`: `len` elements in `size` bytes at `offset`.
    Array { len: u32 },
    /// `__data_loc` dynamic data (`__string()`/`__dynamic_array()` in the event definition):
    /// the u32 at `offset` holds `(len << 16) | offset_in_record`, both relative to the start of
    /// the record (include/trace/stages/stage6_event_callback.h `__get_dynamic_array`).
    DataLoc,
    /// `__rel_loc` dynamic data (newer kernels): like [`FieldKind::DataLoc`], but the low 16 bits are
    /// relative to the end of this 4-byte field (`__get_rel_dynamic_array`).
    RelLoc,
}

/// One `field:` line of a format file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The C type as the kernel prints it, without the `__data_loc`/`__rel_loc` prefix and the
    /// array suffix of the name (`char` for `char comm[16]`, `char[]` for a `__data_loc char[]`).
    pub c_type: String,
    /// Byte offset in the record (the record starts with the `common_*` fields).
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    pub kind: FieldKind,
}

/// A parsed `events/<category>/<name>/format` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracepointFormat {
    pub name: String,
    pub id: u32,
    /// All fields in file order, `common_*` fields included.
    pub fields: Vec<Field>,
}

impl TracepointFormat {
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Rejects names that would escape `events/` (they are joined into a path).
fn valid_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.contains('\0')
}

fn event_dir(root: &Path, category: &str, name: &str) -> Result<PathBuf, TracefsError> {
    if !valid_component(category) || !valid_component(name) {
        return Err(TracefsError::InvalidName {
            category: category.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(root.join("events").join(category).join(name))
}

/// Whether `<root>/events/<category>/<name>` exists (e.g. `task:task_newtask` needs
/// CONFIG_TRACEPOINTS and is absent on some configs; syscall events need CONFIG_FTRACE_SYSCALLS).
pub fn tracepoint_exists(root: &Path, category: &str, name: &str) -> bool {
    event_dir(root, category, name).is_ok_and(|d| d.is_dir())
}

/// Reads and parses `<root>/events/<category>/<name>/format`.
pub fn read_format(
    tracefs_root: &Path,
    category: &str,
    name: &str,
) -> Result<TracepointFormat, TracefsError> {
    let path = event_dir(tracefs_root, category, name)?.join("format");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(TracefsError::TracepointMissing {
                category: category.to_owned(),
                name: name.to_owned(),
                path,
            })
        }
        Err(source) => return Err(TracefsError::Read { path, source }),
    };
    parse_format(&text).map_err(|source| TracefsError::Parse { path, source })
}

/// Parses the text of a format file:
///
/// ```text
/// name: sched_process_fork
/// ID: 304
/// format:
///     field:unsigned short common_type;   offset:0;   size:2; signed:0;
///     ...
///     field:__data_loc char[] child_comm; offset:16;  size:4; signed:0;
///
/// print fmt: "..."
/// ```
///
/// Unknown non-field lines are ignored (the print fmt, future additions); a `field:` line that
/// does not parse is an error, since silently dropping it could hide the field we need.
pub fn parse_format(text: &str) -> Result<TracepointFormat, FormatError> {
    let mut name = None;
    let mut id = None;
    let mut fields: Vec<Field> = Vec::new();
    let mut seen = HashSet::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        let bad = |reason| FormatError::BadLine {
            line: line_no,
            reason,
            text: raw.to_owned(),
        };
        if line.starts_with("print fmt:") {
            // The print format is last (f_show) and may contain anything, e.g. "field:".
            break;
        } else if let Some(rest) = line.strip_prefix("name:") {
            let n = rest.trim();
            if n.is_empty() {
                return Err(bad("empty name"));
            }
            name = Some(n.to_owned());
        } else if let Some(rest) = line.strip_prefix("ID:") {
            id = Some(rest.trim().parse::<u32>().map_err(|_| bad("invalid ID"))?);
        } else if line.starts_with("field:") {
            let field = parse_field_line(line).map_err(bad)?;
            if !seen.insert(field.name.clone()) {
                return Err(FormatError::DuplicateField(field.name));
            }
            fields.push(field);
        }
    }
    let name = name.ok_or(FormatError::MissingName)?;
    let id = id.ok_or(FormatError::MissingId)?;
    if fields.is_empty() {
        return Err(FormatError::NoFields);
    }
    Ok(TracepointFormat { name, id, fields })
}

/// `field:<decl>;\toffset:<n>;\tsize:<n>;\tsigned:<0|1>;` (the format of `f_show()`).
fn parse_field_line(line: &str) -> Result<Field, &'static str> {
    let mut decl = None;
    let mut offset = None;
    let mut size = None;
    let mut signed = None;
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once(':').ok_or("attribute without ':'")?;
        let value = value.trim();
        match key.trim() {
            "field" => decl = Some(value),
            "offset" => offset = Some(value.parse::<u32>().map_err(|_| "invalid offset")?),
            "size" => size = Some(value.parse::<u32>().map_err(|_| "invalid size")?),
            "signed" => {
                signed = Some(match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err("invalid signed"),
                });
            }
            // Tolerate attributes added by future kernels.
            _ => {}
        }
    }
    let decl = decl.ok_or("missing field declaration")?;
    let offset = offset.ok_or("missing offset")?;
    let size = size.ok_or("missing size")?;
    // Very old kernels printed no `signed:`; defaulting keeps their formats readable (no
    // field we use depends on it).
    let signed = signed.unwrap_or(false);
    offset.checked_add(size).ok_or("offset + size overflows")?;

    let (decl, dynamic) = if let Some(rest) = decl.strip_prefix("__data_loc ") {
        (rest.trim(), Some(FieldKind::DataLoc))
    } else if let Some(rest) = decl.strip_prefix("__rel_loc ") {
        (rest.trim(), Some(FieldKind::RelLoc))
    } else {
        (decl, None)
    };

    // The name is the last identifier; anything before it is the type. An array suffix sticks
    // to the name: `char comm[16]`.
    let (c_type, ident) = match decl.rsplit_once(|c: char| c.is_whitespace() || c == '*') {
        Some((_, n)) => {
            // Keep a trailing '*' with the type: `int * stat_addr` → type `int *`.
            let t_end = decl.len() - n.len();
            (decl[..t_end].trim(), n)
        }
        None => return Err("field declaration without a type"),
    };
    if c_type.is_empty() {
        return Err("field declaration without a type");
    }

    let (name, kind) = match dynamic {
        Some(kind) => {
            // The u32 descriptor is the only thing stored inline.
            if size != 4 {
                return Err("dynamic field whose size is not 4");
            }
            if ident.contains('[') {
                return Err("dynamic field with an array suffix on the name");
            }
            (ident, kind)
        }
        None => match ident.split_once('[') {
            Some((n, rest)) => {
                let len = rest
                    .strip_suffix(']')
                    .ok_or("unterminated array length")?
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| "invalid array length")?;
                if len == 0 || size % len != 0 {
                    return Err("array length does not divide the field size");
                }
                (n, FieldKind::Array { len })
            }
            None => {
                if c_type.ends_with("[]") {
                    return Err("unsized array that is not __data_loc/__rel_loc");
                }
                (ident, FieldKind::Scalar)
            }
        },
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("invalid field name");
    }
    Ok(Field {
        name: name.to_owned(),
        c_type: c_type.to_owned(),
        offset,
        size,
        signed,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> TracepointFormat {
        match parse_format(text) {
            Ok(f) => f,
            Err(e) => panic!("fixture does not parse: {e}"),
        }
    }

    fn field<'a>(f: &'a TracepointFormat, name: &str) -> &'a Field {
        f.field(name)
            .unwrap_or_else(|| panic!("{} has no field {name}", f.name))
    }

    const KERNELS: [(&str, &str, &str, &str); 4] = [
        (
            "6.1",
            fixture!("6.1", "sched_process_fork"),
            fixture!("6.1", "sched_process_exit"),
            fixture!("6.1", "sched_process_exec"),
        ),
        (
            "6.12",
            fixture!("6.12", "sched_process_fork"),
            fixture!("6.12", "sched_process_exit"),
            fixture!("6.12", "sched_process_exec"),
        ),
        (
            "7.3",
            fixture!("7.3", "sched_process_fork"),
            fixture!("7.3", "sched_process_exit"),
            fixture!("7.3", "sched_process_exec"),
        ),
        (
            "6.18",
            fixture!("6.18", "sched_process_fork"),
            fixture!("6.18", "sched_process_exit"),
            fixture!("6.18", "sched_process_exec"),
        ),
    ];

    fn old_layout(kernel: &str) -> bool {
        matches!(kernel, "6.1" | "6.12")
    }

    #[test]
    fn fork_layout_per_kernel() {
        for (kernel, fork, _, _) in KERNELS {
            let f = parse(fork);
            assert_eq!(f.name, "sched_process_fork", "{kernel}");
            let pid = field(&f, "child_pid");
            assert_eq!(pid.kind, FieldKind::Scalar, "{kernel}");
            assert_eq!((pid.size, pid.signed), (4, true), "{kernel}");
            let comm = field(&f, "child_comm");
            let parent_comm = field(&f, "parent_comm");
            if old_layout(kernel) {
                assert_eq!(pid.offset, 44, "{kernel}");
                assert_eq!(comm.kind, FieldKind::Array { len: 16 }, "{kernel}");
                assert_eq!((comm.offset, comm.size), (28, 16), "{kernel}");
                assert_eq!(comm.c_type, "char", "{kernel}");
                assert_eq!(parent_comm.kind, FieldKind::Array { len: 16 }, "{kernel}");
            } else {
                assert_eq!(pid.offset, 20, "{kernel}");
                assert_eq!(comm.kind, FieldKind::DataLoc, "{kernel}");
                assert_eq!((comm.offset, comm.size), (16, 4), "{kernel}");
                assert_eq!(comm.c_type, "char[]", "{kernel}");
                assert_eq!(parent_comm.kind, FieldKind::DataLoc, "{kernel}");
            }
        }
    }

    #[test]
    fn exit_group_dead_only_on_new_kernels() {
        for (kernel, _, exit, _) in KERNELS {
            let f = parse(exit);
            assert_eq!(f.name, "sched_process_exit", "{kernel}");
            assert_eq!(field(&f, "pid").offset, 24, "{kernel}");
            match f.field("group_dead") {
                Some(g) => {
                    assert!(!old_layout(kernel), "{kernel} should not have group_dead");
                    assert_eq!((g.offset, g.size, g.kind), (32, 1, FieldKind::Scalar));
                    assert_eq!(g.c_type, "bool");
                }
                None => assert!(old_layout(kernel), "{kernel} should have group_dead"),
            }
        }
    }

    #[test]
    fn exec_layout_is_stable() {
        for (kernel, _, _, exec) in KERNELS {
            let f = parse(exec);
            assert_eq!(f.name, "sched_process_exec", "{kernel}");
            let filename = field(&f, "filename");
            assert_eq!(filename.kind, FieldKind::DataLoc, "{kernel}");
            assert_eq!((filename.offset, filename.size), (8, 4), "{kernel}");
            assert_eq!(field(&f, "pid").offset, 12, "{kernel}");
            assert_eq!(field(&f, "old_pid").offset, 16, "{kernel}");
        }
    }

    #[test]
    fn common_fields_and_id() {
        let f = parse(fixture!("6.1", "sched_process_fork"));
        assert_eq!(f.id, 308);
        assert_eq!(f.fields.len(), 8);
        let t = field(&f, "common_type");
        assert_eq!(t.c_type, "unsigned short");
        assert_eq!((t.offset, t.size, t.signed), (0, 2, false));
    }

    #[test]
    fn host_6_18_task_newtask() {
        let f = parse(fixture!("6.18", "task_newtask"));
        assert_eq!(f.name, "task_newtask");
        let pid = field(&f, "pid");
        assert_eq!((pid.offset, pid.size, pid.kind), (8, 4, FieldKind::Scalar));
        let comm = field(&f, "comm");
        assert_eq!(comm.kind, FieldKind::Array { len: 16 });
        let flags = field(&f, "clone_flags");
        assert_eq!((flags.offset, flags.size, flags.signed), (32, 8, false));
        assert_eq!(flags.c_type, "u64");
    }

    #[test]
    fn host_6_18_syscall_and_free_events() {
        let enter = parse(fixture!("6.18", "sys_enter_wait4"));
        let stat = field(&enter, "stat_addr");
        assert_eq!(stat.c_type, "int *");
        assert_eq!((stat.offset, stat.size), (24, 8));
        let ru = field(&enter, "ru");
        assert_eq!(ru.c_type, "struct rusage *");
        let exit = parse(fixture!("6.18", "sys_exit_wait4"));
        assert_eq!(field(&exit, "ret").offset, 16);
        assert_eq!(field(&exit, "__syscall_nr").offset, 8);
        let enter = parse(fixture!("6.18", "sys_enter_waitid"));
        assert_eq!(field(&enter, "infop").offset, 32);
        assert_eq!(field(&enter, "infop").c_type, "struct siginfo *");
        let exit = parse(fixture!("6.18", "sys_exit_waitid"));
        assert_eq!(field(&exit, "ret").offset, 16);
        let free = parse(fixture!("6.18", "sched_process_free"));
        assert_eq!(field(&free, "comm").kind, FieldKind::DataLoc);
        assert_eq!(field(&free, "pid").offset, 12);
    }

    #[test]
    fn print_fmt_is_not_parsed_as_fields() {
        let text = "name: x\nID: 1\nformat:\n\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n\n\
                    print fmt: \"field:int b; offset:0\"\n";
        let f = parse(text);
        assert_eq!(f.fields.len(), 1);
        assert!(f.field("b").is_none());
    }

    #[test]
    fn rel_loc_and_missing_signed() {
        let text = "name: x\nID: 1\nformat:\n\tfield:__rel_loc char[] s;\toffset:8;\tsize:4;\n";
        let f = parse(text);
        let s = field(&f, "s");
        assert_eq!((s.kind, s.signed), (FieldKind::RelLoc, false));
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let head = "name: x\nID: 1\nformat:\n";
        let bad_fields = [
            "\tfield:int a;\toffset:x;\tsize:4;\tsigned:1;",
            "\tfield:int a;\toffset:8;\tsigned:1;",
            "\tfield:int a;\tsize:4;\tsigned:1;",
            "\tfield:int a;\toffset:8;\tsize:4;\tsigned:2;",
            "\tfield:a;\toffset:8;\tsize:4;\tsigned:1;",
            "\tfield:;\toffset:8;\tsize:4;\tsigned:1;",
            "\tfield:char c[16;\toffset:8;\tsize:16;\tsigned:1;",
            "\tfield:char c[N];\toffset:8;\tsize:16;\tsigned:1;",
            "\tfield:char c[0];\toffset:8;\tsize:16;\tsigned:1;",
            "\tfield:char c[3];\toffset:8;\tsize:16;\tsigned:1;",
            "\tfield:char[] c;\toffset:8;\tsize:4;\tsigned:1;",
            "\tfield:__data_loc char[] c;\toffset:8;\tsize:8;\tsigned:1;",
            "\tfield:__data_loc char[] c[2];\toffset:8;\tsize:4;\tsigned:1;",
            "\tfield:int a;\toffset:4294967295;\tsize:4;\tsigned:1;",
            "\tfield:int a-b;\toffset:8;\tsize:4;\tsigned:1;",
            "\tfield:int a;\toffset;\tsize:4;\tsigned:1;",
            "\tfield:int a;\toffset:-1;\tsize:4;\tsigned:1;",
        ];
        for line in bad_fields {
            let text = format!("{head}{line}\n");
            match parse_format(&text) {
                Err(FormatError::BadLine { line: 4, .. }) => {}
                other => panic!("{line:?}: expected a line-4 error, got {other:?}"),
            }
        }
        let field = "\tfield:int a;\toffset:8;\tsize:4;\tsigned:1;\n";
        assert_eq!(parse_format(""), Err(FormatError::MissingName));
        assert_eq!(
            parse_format(&format!("ID: 1\n{field}")),
            Err(FormatError::MissingName)
        );
        assert_eq!(
            parse_format(&format!("name: x\n{field}")),
            Err(FormatError::MissingId)
        );
        assert!(matches!(
            parse_format(&format!("name: x\nID: abc\n{field}")),
            Err(FormatError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse_format(&format!("name:\nID: 1\n{field}")),
            Err(FormatError::BadLine { line: 1, .. })
        ));
        assert_eq!(parse_format(head), Err(FormatError::NoFields));
        assert_eq!(
            parse_format(&format!("{head}{field}{field}")),
            Err(FormatError::DuplicateField("a".into()))
        );
        // Binary garbage and truncations of a real file must not panic.
        let real = fixture!("6.18", "sched_process_fork");
        for cut in 0..real.len() {
            if real.is_char_boundary(cut) {
                let _ = parse_format(&real[..cut]);
            }
        }
        let _ = parse_format("\u{0}\u{ffff}field:[[[;;;::\n\tfield:\t;");
    }

    #[test]
    fn names_are_validated() {
        let root = Path::new("/nonexistent-tracefs");
        assert!(!tracepoint_exists(root, "sched", "sched_process_fork"));
        assert!(!tracepoint_exists(root, "..", "x"));
        assert!(matches!(
            read_format(root, "sched", "../../etc"),
            Err(TracefsError::InvalidName { .. })
        ));
        assert!(matches!(
            read_format(root, "sched", "sched_process_fork"),
            Err(TracefsError::TracepointMissing { .. })
        ));
    }

    #[test]
    fn read_format_from_a_tree() {
        let dir = std::env::temp_dir().join(format!("proctrace-tracefs-{}", std::process::id()));
        let ev = dir.join("events/sched/sched_process_fork");
        fs::create_dir_all(&ev).expect("create temp tree");
        fs::write(ev.join("format"), fixture!("7.3", "sched_process_fork")).expect("write");
        assert!(tracepoint_exists(&dir, "sched", "sched_process_fork"));
        let f = read_format(&dir, "sched", "sched_process_fork");
        let bad = dir.join("events/sched/broken");
        fs::create_dir_all(&bad).expect("create temp tree");
        fs::write(bad.join("format"), "name: broken\n").expect("write");
        let broken = read_format(&dir, "sched", "broken");
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            f.expect("read").field("child_pid").map(|f| f.offset),
            Some(20)
        );
        assert!(matches!(broken, Err(TracefsError::Parse { .. })));
    }
}
