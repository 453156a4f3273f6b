//! Raw ring-buffer records → [`KernelEvent`]. Records are only 8-byte aligned and may be
//! shorter than the Rust type (exec is submitted up to its used length), so every read is a
//! bounds-checked `read_unaligned`.
use std::borrow::Cow;

use proctrace_common::{
    exec_flags, exit_flags, fork_flags, kind, EventHeader, ExecHeader, ExitEvent, ForkEvent,
    FreeEvent, FreeWaitsEvent, Place as WirePlace, ReleaseEvent, Usage as WireUsage, WaitCall,
    WaitEvent, WaitNote, ABSENT, ABSENT64,
};
use thiserror::Error;

use crate::ingest::event::{
    CgroupIds, CpuTimes, Exec, Exit, ExitStatus, ExitUsage, Fork, Free, FreeWaits, KernelEvent,
    Place, Release, Wait, WaitCallSeen,
};
use crate::output::record::Usage;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {got} bytes is shorter than the {need} bytes of its type")]
    Short { need: usize, got: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
    #[error("exec record claims {claimed} data bytes but carries {got}")]
    ExecData { claimed: usize, got: usize },
}

fn read<T: Copy>(buf: &[u8]) -> Result<T, DecodeError> {
    let need = std::mem::size_of::<T>();
    if buf.len() < need {
        return Err(DecodeError::Short {
            need,
            got: buf.len(),
        });
    }
    // SAFETY: length checked above; T is a plain-data repr(C) wire type (any bits valid).
    Ok(unsafe { std::ptr::read_unaligned(buf.as_ptr().cast::<T>()) })
}

/// The kernel's page size: `signal->maxrss` and the rss counters count pages.
fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(size).ok().filter(|&s| s > 0).unwrap_or(4096)
    })
}

fn figure(v: u64) -> Option<u64> {
    (v != ABSENT64).then_some(v)
}

fn pages(v: u64) -> Option<u64> {
    figure(v).map(|p| p.saturating_mul(page_size()))
}

/// 512-byte blocks (ru_inblock/ru_oublock, include/linux/task_io_accounting_ops.h).
fn blocks(v: u64) -> Option<u64> {
    figure(v).map(|b| b.saturating_mul(512))
}

/// The exit's usage block; `None` when the kernel gave none of it (a kernel or a recorded
/// stream without the counters).
fn exit_usage(u: &WireUsage, complete: bool) -> Option<Box<ExitUsage>> {
    let cpu = match (figure(u.runtime_ns), figure(u.utime_ns), figure(u.stime_ns)) {
        (Some(runtime), Some(utime), Some(stime)) => Some(CpuTimes {
            runtime,
            utime,
            stime,
            prev: figure(u.prev_utime_ns).zip(figure(u.prev_stime_ns)),
        }),
        _ => None,
    };
    let rest = Usage {
        minor_faults: figure(u.min_flt),
        major_faults: figure(u.maj_flt),
        voluntary_ctxt_switches: figure(u.nvcsw),
        involuntary_ctxt_switches: figure(u.nivcsw),
        read_bytes: figure(u.read_bytes),
        write_bytes: figure(u.write_bytes),
        children_cpu_user_ns: figure(u.cutime_ns),
        children_cpu_system_ns: figure(u.cstime_ns),
        children_max_rss_bytes: pages(u.cmaxrss_pages),
        children_minor_faults: figure(u.cmin_flt),
        children_major_faults: figure(u.cmaj_flt),
        children_voluntary_ctxt_switches: figure(u.cnvcsw),
        children_involuntary_ctxt_switches: figure(u.cnivcsw),
        children_read_bytes: blocks(u.cinblock),
        children_write_bytes: blocks(u.coublock),
        complete,
        ..Usage::default()
    };
    let usage = ExitUsage {
        cpu,
        maxrss_bytes: pages(u.maxrss_pages),
        mm_hiwater_bytes: pages(u.mm_hiwater_pages),
        rest,
    };
    let nothing = ExitUsage {
        rest: Usage {
            complete,
            ..Usage::default()
        },
        ..ExitUsage::default()
    };
    (usage != nothing).then(|| Box::new(usage))
}

/// The kernel's place fields; 0 is "unknown" in each (proctrace_common::Place). The cgroup
/// path is resolved later, by the pipeline.
fn place(p: &WirePlace) -> Place {
    let known = |v: u32| (v != 0).then_some(v);
    Place {
        cgroup_ids: CgroupIds {
            v2: p.cgroup_id,
            v1: p.cgroup_v1_id,
        },
        pidns: known(p.pidns),
        nspid: known(p.nspid),
        ..Place::default()
    }
}

/// A NUL-terminated (or full-length) byte string, invalid UTF-8 replaced.
fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Split the argv area (NUL-separated strings) into arguments. A complete area ends with a
/// NUL; a truncated one ends mid-string, which is kept as a (cut) last argument.
///
/// Only an empty area is no argument at all: `"\0"` is one empty argument (what an exec with
/// argc 0 gives on Linux 5.18+, which inserts `""`: fs/exec.c do_execveat_common()).
pub fn split_argv(area: &[u8]) -> Vec<String> {
    if area.is_empty() {
        return Vec::new();
    }
    let area = area.strip_suffix(&[0]).unwrap_or(area);
    area.split(|&b| b == 0)
        .map(|arg| match String::from_utf8_lossy(arg) {
            Cow::Borrowed(s) => s.to_owned(),
            Cow::Owned(s) => s,
        })
        .collect()
}

pub fn decode(buf: &[u8]) -> Result<KernelEvent, DecodeError> {
    let header: EventHeader = read(buf)?;
    Ok(match header.kind {
        kind::FORK => {
            let ev: ForkEvent = read(buf)?;
            KernelEvent::Fork(Fork {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                ppid: header.ppid,
                parent_tid: ev.parent_tid,
                uid: ev.uid,
                start_ns: ev.start_ns,
                start_approx: ev.flags & fork_flags::START_APPROX != 0,
                parent_start_ns: ev.parent_start_ns,
                comm: c_str(&ev.comm),
                place: place(&ev.place),
            })
        }
        kind::EXEC => {
            let hdr: ExecHeader = read(buf)?;
            let data = &buf[std::mem::size_of::<ExecHeader>()..];
            let fn_len = hdr.filename_len as usize;
            let argv_len = hdr.argv_len as usize;
            if fn_len + argv_len > data.len() {
                return Err(DecodeError::ExecData {
                    claimed: fn_len + argv_len,
                    got: data.len(),
                });
            }
            KernelEvent::Exec(Exec {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                old_pid: hdr.old_pid,
                ppid: header.ppid,
                uid: hdr.uid,
                euid: (hdr.euid != ABSENT).then_some(hdr.euid),
                maxrss_bytes: pages(hdr.maxrss_pages),
                start_ns: hdr.start_ns,
                comm: c_str(&hdr.comm),
                filename: c_str(&data[..fn_len]),
                argv: split_argv(&data[fn_len..fn_len + argv_len]),
                argv_truncated: hdr.flags & exec_flags::ARGV_TRUNCATED != 0,
                argv_read_failed: hdr.flags & exec_flags::ARGV_READ_FAILED != 0,
                filename_truncated: hdr.flags & exec_flags::FILENAME_TRUNCATED != 0,
                place: place(&hdr.place),
            })
        }
        kind::EXIT => {
            let ev: ExitEvent = read(buf)?;
            KernelEvent::Exit(Exit {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                tid: header.tid,
                ppid: header.ppid,
                uid: ev.uid,
                start_ns: ev.start_ns,
                comm: c_str(&ev.comm),
                status: ExitStatus::from_raw(ev.status),
                autoreap: ev.flags & exit_flags::AUTOREAP != 0,
                non_sigchld: ev.flags & exit_flags::NON_SIGCHLD != 0,
                parent_waiting: ev.flags & exit_flags::PARENT_WAITING != 0,
                usage: exit_usage(&ev.usage, ev.flags & exit_flags::USAGE_INCOMPLETE == 0),
                place: place(&ev.place),
            })
        }
        kind::WAIT => {
            let ev: WaitEvent = read(buf)?;
            KernelEvent::Wait(Wait {
                ktime_ns: header.ktime_ns,
                reaper: header.pid,
                reaper_tid: header.tid,
                reaped: ev.reaped,
                status: (ev.status != ABSENT).then_some(ev.status),
                // An unreadable level is taken as the initial namespace, where almost every
                // waiter lives.
                ns_local: ev.ns_level != 0 && ev.ns_level != ABSENT,
            })
        }
        kind::FREE => {
            let ev: FreeEvent = read(buf)?;
            KernelEvent::Free(Free {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                start_ns: ev.start_ns,
            })
        }
        kind::FREE_WAITS => {
            let ev: FreeWaitsEvent = read(buf)?;
            KernelEvent::FreeWaits(FreeWaits {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                start_ns: ev.start_ns,
                reaper: header.ppid,
                calls: with_call_for_it(calls_oldest_first(&ev.waits), &ev.for_it, header.pid),
            })
        }
        kind::RELEASE => {
            let ev: ReleaseEvent = read(buf)?;
            KernelEvent::Release(Release {
                ktime_ns: header.ktime_ns,
                pid: header.pid,
                ppid: header.ppid,
                start_ns: ev.start_ns,
                releaser: ev.releaser,
                releaser_exiting: ev.releaser_exiting != 0,
            })
        }
        other => return Err(DecodeError::UnknownKind(other)),
    })
}

/// `calls` with the reaper's call for the process `pid` itself, in time order, once.
pub fn with_call_for_it(
    mut calls: Vec<WaitCallSeen>,
    for_it: &WaitCall,
    pid: u32,
) -> Vec<WaitCallSeen> {
    let pushed_out = !calls.iter().any(|c| c.ktime_ns == for_it.ktime_ns);
    if for_it.ktime_ns != 0 && pushed_out {
        calls.push(WaitCallSeen {
            ktime_ns: for_it.ktime_ns,
            tid: for_it.tid,
            // `for_it.target` holds the caller: the call was for this pid.
            target: pid,
        });
        calls.sort_by_key(|c| c.ktime_ns);
    }
    calls
}

/// A wait note's ring of calls, oldest first, empty slots left out.
pub fn calls_oldest_first(note: &WaitNote) -> Vec<WaitCallSeen> {
    let ring = note.calls.len();
    let noted = note.noted as usize;
    // The ring's oldest slot is the next one written once it has wrapped.
    let first = if noted > ring { noted % ring } else { 0 };
    (0..ring.min(noted))
        .filter_map(|i| note.calls.get((first + i) % ring))
        .filter(|c| c.ktime_ns != 0)
        .map(|c| WaitCallSeen {
            ktime_ns: c.ktime_ns,
            tid: c.tid,
            target: c.target,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_call(ktime_ns: u64, target: u32) -> WaitCall {
        WaitCall {
            ktime_ns,
            tid: 9,
            target,
        }
    }

    fn seen(ktime_ns: u64, target: u32) -> WaitCallSeen {
        WaitCallSeen {
            ktime_ns,
            tid: 9,
            target,
        }
    }

    /// The ring's oldest call is the slot written next once it has wrapped.
    #[test]
    fn a_wait_note_ring_reads_oldest_first() {
        let mut note = WaitNote {
            noted: 2,
            ..WaitNote::default()
        };
        note.calls[0] = wait_call(10, 0);
        note.calls[1] = wait_call(20, 5);
        assert_eq!(calls_oldest_first(&note), [seen(10, 0), seen(20, 5)]);
        note.noted = 6;
        note.calls = [
            wait_call(50, 0),
            wait_call(60, 0),
            wait_call(30, 0),
            wait_call(40, 0),
        ];
        let times: Vec<u64> = calls_oldest_first(&note)
            .iter()
            .map(|c| c.ktime_ns)
            .collect();
        assert_eq!(times, [30, 40, 50, 60]);
        assert!(calls_oldest_first(&WaitNote::default()).is_empty());
    }

    /// The call for the process comes in once, in time order, as a call for its pid.
    #[test]
    fn the_call_for_the_process_joins_the_ring_once() {
        let ring = vec![seen(30, 7), seen(40, 0)];
        let merged = with_call_for_it(ring.clone(), &wait_call(20, 1234), 99);
        assert_eq!(merged, [seen(20, 99), seen(30, 7), seen(40, 0)]);
        assert_eq!(
            with_call_for_it(ring.clone(), &wait_call(40, 1234), 99),
            ring
        );
        assert_eq!(
            with_call_for_it(ring.clone(), &WaitCall::default(), 99),
            ring
        );
    }
    use proctrace_common::{ExecEvent, COMM_LEN};

    fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: wire types are plain data without padding.
        unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        }
        .to_vec()
    }

    fn comm(s: &str) -> [u8; COMM_LEN] {
        let mut c = [0u8; COMM_LEN];
        c[..s.len()].copy_from_slice(s.as_bytes());
        c
    }

    fn header(kind: u32, pid: u32) -> EventHeader {
        EventHeader {
            kind,
            tid: pid,
            ktime_ns: 1_000,
            pid,
            ppid: 1,
        }
    }

    #[test]
    fn fork_round_trip() {
        let ev = ForkEvent {
            header: header(kind::FORK, 42),
            start_ns: 900,
            parent_start_ns: 5,
            parent_tid: 7,
            uid: 1000,
            flags: fork_flags::START_APPROX,
            _pad: 0,
            comm: comm("bash"),
            place: proctrace_common::Place::default(),
        };
        let KernelEvent::Fork(f) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not fork")
        };
        assert_eq!(
            (f.pid, f.ppid, f.parent_tid, f.uid, f.start_ns),
            (42, 1, 7, 1000, 900)
        );
        assert!(f.start_approx);
        assert_eq!(f.comm, "bash");
        assert_eq!(f.parent_start_ns, 5);
    }

    #[test]
    fn full_length_comm_without_nul() {
        let ev = ExitEvent {
            header: header(kind::EXIT, 3),
            start_ns: 1,
            status: 9,
            uid: 0,
            flags: exit_flags::AUTOREAP,
            _pad: 0,
            comm: *b"0123456789abcdef",
            usage: proctrace_common::Usage::absent(),
            place: proctrace_common::Place::default(),
        };
        let KernelEvent::Exit(e) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not exit")
        };
        assert_eq!(e.comm, "0123456789abcdef");
        assert_eq!(e.status.signal, Some(9));
        assert!(e.autoreap && !e.non_sigchld);
    }

    #[test]
    fn exit_usage_in_bytes_and_absent_figures_as_none() {
        let mut usage = proctrace_common::Usage::absent();
        usage.runtime_ns = 7;
        usage.utime_ns = 4;
        usage.stime_ns = 0;
        usage.maxrss_pages = 3;
        usage.coublock = 2;
        usage.min_flt = 0;
        let ev = ExitEvent {
            header: header(kind::EXIT, 3),
            start_ns: 1,
            status: 0,
            uid: 0,
            flags: exit_flags::USAGE_INCOMPLETE,
            _pad: 0,
            comm: comm("x"),
            usage,
            place: proctrace_common::Place::default(),
        };
        let KernelEvent::Exit(e) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not exit")
        };
        let u = e.usage.expect("usage");
        let cpu = u.cpu.expect("cpu");
        assert_eq!(
            (cpu.runtime, cpu.utime, cpu.stime, cpu.prev),
            (7, 4, 0, None)
        );
        assert_eq!(u.maxrss_bytes, Some(3 * page_size()));
        assert_eq!(u.mm_hiwater_bytes, None);
        assert_eq!(u.rest.children_write_bytes, Some(1024));
        assert_eq!(u.rest.minor_faults, Some(0));
        assert_eq!(u.rest.major_faults, None);
        assert!(!u.rest.complete);

        // Nothing at all (a recorded stream from before the counters): no usage.
        let ev = ExitEvent {
            usage: proctrace_common::Usage::absent(),
            flags: 0,
            ..ev
        };
        let KernelEvent::Exit(e) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not exit")
        };
        assert_eq!(e.usage, None);
    }

    fn exec_record(filename: &[u8], argv: &[u8], flags: u32) -> Vec<u8> {
        // SAFETY: ExecEvent is plain integers and byte arrays: all zeroes is a valid value.
        let mut ev: ExecEvent = unsafe { std::mem::zeroed() };
        ev.hdr = ExecHeader {
            header: header(kind::EXEC, 10),
            start_ns: 2,
            old_pid: 11,
            uid: 0,
            flags,
            filename_len: filename.len() as u32,
            argv_len: argv.len() as u32,
            euid: 0,
            comm: comm("sh"),
            maxrss_pages: ABSENT64,
            place: proctrace_common::Place::default(),
        };
        ev.data[..filename.len()].copy_from_slice(filename);
        ev.data[filename.len()..filename.len() + argv.len()].copy_from_slice(argv);
        let used = std::mem::size_of::<ExecHeader>() + filename.len() + argv.len();
        bytes_of(&ev)[..used].to_vec()
    }

    #[test]
    fn exec_with_hostile_argv() {
        let argv = b"/bin/sh\0-c\0a\nb\"c\\d\te\0\xff\xfeok\0\0last\0";
        let rec = exec_record(b"/bin/sh", argv, 0);
        let KernelEvent::Exec(e) = decode(&rec).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(e.filename, "/bin/sh");
        assert_eq!(e.old_pid, 11);
        assert_eq!(
            e.argv,
            vec![
                "/bin/sh",
                "-c",
                "a\nb\"c\\d\te",
                "\u{fffd}\u{fffd}ok",
                "",
                "last"
            ]
        );
        assert!(!e.argv_truncated);
    }

    #[test]
    fn exec_truncated_keeps_cut_argument() {
        let rec = exec_record(b"/x", b"a\0bc", exec_flags::ARGV_TRUNCATED);
        let KernelEvent::Exec(e) = decode(&rec).unwrap() else {
            panic!("not exec")
        };
        assert_eq!(e.argv, vec!["a", "bc"]);
        assert!(e.argv_truncated);
    }

    #[test]
    fn exec_lengths_beyond_record_are_rejected() {
        let mut rec = exec_record(b"/x", b"a\0", 0);
        rec.truncate(rec.len() - 1);
        assert!(matches!(decode(&rec), Err(DecodeError::ExecData { .. })));
    }

    #[test]
    fn short_and_unknown_records_are_errors() {
        assert!(matches!(decode(&[1, 2, 3]), Err(DecodeError::Short { .. })));
        let h = header(99, 1);
        assert_eq!(decode(&bytes_of(&h)), Err(DecodeError::UnknownKind(99)));
        let h = header(kind::FORK, 1);
        assert!(matches!(
            decode(&bytes_of(&h)),
            Err(DecodeError::Short { .. })
        ));
    }

    #[test]
    fn wait_status_absent_is_none() {
        let ev = WaitEvent {
            header: header(kind::WAIT, 5),
            reaped: 6,
            status: ABSENT,
            _pad: 0,
            ns_level: ABSENT,
        };
        let KernelEvent::Wait(w) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not wait")
        };
        assert_eq!(
            (w.reaper, w.reaped, w.status, w.ns_local),
            (5, 6, None, false)
        );
        for (level, ns_local) in [(0, false), (1, true), (3, true)] {
            let ev = WaitEvent {
                ns_level: level,
                ..ev
            };
            let KernelEvent::Wait(w) = decode(&bytes_of(&ev)).unwrap() else {
                panic!("not wait")
            };
            assert_eq!(w.ns_local, ns_local, "level {level}");
        }
    }

    #[test]
    fn release_round_trip() {
        let ev = ReleaseEvent {
            header: header(kind::RELEASE, 9),
            start_ns: 4,
            releaser: 3,
            releaser_exiting: 1,
        };
        let KernelEvent::Release(r) = decode(&bytes_of(&ev)).unwrap() else {
            panic!("not release")
        };
        assert_eq!(
            (r.pid, r.ppid, r.start_ns, r.releaser, r.releaser_exiting),
            (9, 1, 4, 3, true)
        );
    }

    #[test]
    fn empty_argv_area() {
        assert!(split_argv(b"").is_empty());
        assert_eq!(split_argv(b"\0"), [""]);
        assert_eq!(split_argv(b"\0\0"), ["", ""]);
        assert_eq!(split_argv(b"a\0\0"), ["a", ""]);
    }
}
