//! What an exiting process used, summed as the kernel sums it for getrusage() and wait4()
//! (kernel/sys.c getrusage, kernel/sched/cputime.c thread_group_cputime): the counters of the
//! threads already released, which __exit_signal() (kernel/exit.c) folded into
//! `signal_struct`, plus those of every thread still on `signal->thread_head`. Read once, by
//! the last thread, at `sched_process_exit`.
use core::ptr::addr_of_mut;

use proctrace_common::{counter, Usage, ABSENT, ABSENT64, USAGE_BLOCK_CAP, USAGE_MAX_THREADS};

use crate::{
    config::conf,
    maps::{count, USAGE_SCRATCH},
    task::{probe_u64, read_at, ReadError, Task},
};

/// Attempts at a consistent sum: __exit_signal() folds a thread and unlinks it under
/// `write_seqlock(&sig->stats_lock)`, so an unchanged, even sequence around the sum means no
/// thread was counted twice or missed.
const ATTEMPTS: u32 = 2;

/// The per-thread counters that are summed.
///
/// Reads in the sum never branch on their result: a failed read gives 0 and ORs its error
/// into `err`, checked once at the end. A branch per read, with sums that differ on each
/// side, multiplies the states the verifier explores on every pass of the thread loop (the
/// first version was refused with E2BIG).
#[derive(Clone, Copy)]
struct Sums {
    runtime: u64,
    utime: u64,
    stime: u64,
    min_flt: u64,
    maj_flt: u64,
    nvcsw: u64,
    nivcsw: u64,
    read_bytes: u64,
    write_bytes: u64,
    err: i64,
}

/// Adds the u64 at `base + off`; nothing when this kernel lacks the member (a load-time
/// constant: the verifier drops the dead branch).
#[inline(always)]
fn add(acc: &mut u64, err: &mut i64, base: u64, off: u32) {
    if off == ABSENT {
        return;
    }
    let (v, ret) = probe_u64(base.wrapping_add(off as u64));
    *acc = acc.wrapping_add(v);
    *err |= ret;
}

/// A summed figure: ABSENT64 when either side lacks the member or a read failed.
#[inline(always)]
fn figure(sum: u64, ok: bool, task_off: u32, signal_off: u32) -> u64 {
    if !ok || task_off == ABSENT || signal_off == ABSENT {
        ABSENT64
    } else {
        sum
    }
}

/// The exiting process's signal_struct: its counters from one copy of their block
/// (`signal_block_*`, resolved from BTF) when the layout keeps them together, else each read
/// on its own. Which of the two is a load-time constant: the verifier keeps one path.
#[derive(Clone, Copy)]
struct Signal {
    addr: u64,
    /// USAGE_SCRATCH's value (never null), holding the copy in block mode.
    block: *mut u8,
}

impl Signal {
    /// Takes a fresh copy of the block; the helper's error (0 or -errno) for the sum.
    #[inline(always)]
    fn load(addr: u64, scratch: *mut u8) -> (Signal, i64) {
        let sig = Signal {
            addr,
            block: scratch,
        };
        if addr == 0 {
            return (sig, -1);
        }
        let len = conf!(signal_block_len);
        if len == 0 {
            return (sig, 0);
        }
        let len = if len as usize > USAGE_BLOCK_CAP {
            USAGE_BLOCK_CAP as u32
        } else {
            len
        };
        let src = addr.wrapping_add(conf!(signal_block_start) as u64);
        // SAFETY: at most USAGE_BLOCK_CAP bytes into the per-CPU map value of that size; the
        // helper copes with any source address.
        let ret = unsafe {
            aya_ebpf::helpers::generated::bpf_probe_read_kernel(
                scratch.cast(),
                len,
                src as *const core::ffi::c_void,
            )
        };
        (sig, ret)
    }

    /// The u64 at `off` (not ABSENT) and an error code, as [`probe_u64`] gives them.
    #[inline(always)]
    fn read(self, off: u32) -> (u64, i64) {
        if conf!(signal_block_len) == 0 {
            return probe_u64(self.addr.wrapping_add(off as u64));
        }
        let rel = off.wrapping_sub(conf!(signal_block_start)) as usize;
        if rel > USAGE_BLOCK_CAP - 8 {
            return (0, -1);
        }
        // SAFETY: `rel + 8 <= USAGE_BLOCK_CAP`, inside the map value.
        let v = unsafe { core::ptr::read_unaligned(self.block.add(rel).cast::<u64>()) };
        (v, 0)
    }

    /// A figure read alone: ABSENT64 when this kernel lacks it or the read failed.
    #[inline(always)]
    fn figure(self, off: u32) -> u64 {
        if off == ABSENT || self.addr == 0 {
            return ABSENT64;
        }
        match self.read(off) {
            (v, 0) => v,
            _ => ABSENT64,
        }
    }
}

/// Adds the signal_struct counter at `off`, like [`add`].
#[inline(always)]
fn add_signal(acc: &mut u64, err: &mut i64, sig: Signal, off: u32) {
    if off == ABSENT {
        return;
    }
    let (v, ret) = sig.read(off);
    *acc = acc.wrapping_add(v);
    *err |= ret;
}

impl Sums {
    /// signal_struct's totals of the released threads.
    #[inline(always)]
    fn of_signal(sig: Signal) -> Sums {
        let mut s = Sums {
            runtime: 0,
            utime: 0,
            stime: 0,
            min_flt: 0,
            maj_flt: 0,
            nvcsw: 0,
            nivcsw: 0,
            read_bytes: 0,
            write_bytes: 0,
            err: 0,
        };
        let e = &mut s.err;
        add_signal(&mut s.runtime, e, sig, conf!(signal_sum_sched_runtime));
        add_signal(&mut s.utime, e, sig, conf!(signal_utime));
        add_signal(&mut s.stime, e, sig, conf!(signal_stime));
        add_signal(&mut s.min_flt, e, sig, conf!(signal_min_flt));
        add_signal(&mut s.maj_flt, e, sig, conf!(signal_maj_flt));
        add_signal(&mut s.nvcsw, e, sig, conf!(signal_nvcsw));
        add_signal(&mut s.nivcsw, e, sig, conf!(signal_nivcsw));
        add_signal(&mut s.read_bytes, e, sig, conf!(signal_read_bytes));
        add_signal(&mut s.write_bytes, e, sig, conf!(signal_write_bytes));
        s
    }

    /// Adds one live thread's own counters.
    #[inline(always)]
    fn add_thread(&mut self, t: u64) {
        let e = &mut self.err;
        add(&mut self.runtime, e, t, conf!(task_sum_exec_runtime));
        add(&mut self.utime, e, t, conf!(task_utime));
        add(&mut self.stime, e, t, conf!(task_stime));
        add(&mut self.min_flt, e, t, conf!(task_min_flt));
        add(&mut self.maj_flt, e, t, conf!(task_maj_flt));
        add(&mut self.nvcsw, e, t, conf!(task_nvcsw));
        add(&mut self.nivcsw, e, t, conf!(task_nivcsw));
        add(&mut self.read_bytes, e, t, conf!(task_read_bytes));
        add(&mut self.write_bytes, e, t, conf!(task_write_bytes));
    }
}

/// Walks `signal->thread_head` (for_each_thread, include/linux/sched/signal.h) adding each
/// thread; `false` when the list was longer than [`USAGE_MAX_THREADS`] or could not be read.
#[inline(always)]
fn add_threads(sums: &mut Sums, signal: u64) -> bool {
    let (head_off, node_off) = (conf!(signal_thread_head), conf!(task_thread_node));
    if head_off == ABSENT || node_off == ABSENT {
        return false;
    }
    let head = signal.wrapping_add(head_off as u64);
    let (mut node, ret) = probe_u64(head);
    if ret != 0 {
        sums.err |= ret;
        return false;
    }
    for _ in 0..USAGE_MAX_THREADS {
        if node == head {
            return true;
        }
        sums.add_thread(node.wrapping_sub(node_off as u64));
        let (next, ret) = probe_u64(node);
        if ret != 0 {
            sums.err |= ret;
            return false;
        }
        node = next;
    }
    false
}

/// The process's own sums, and the signal_struct copy they were taken from; `complete` is
/// false when a thread may be missing or counted twice.
#[inline(always)]
fn own_sums(signal: u64, scratch: *mut u8) -> (Sums, Signal, bool) {
    for attempt in 0..ATTEMPTS {
        let (before, e1) = probe_u32(signal, conf!(signal_stats_seq));
        let (sig, e0) = Signal::load(signal, scratch);
        let mut sums = Sums::of_signal(sig);
        sums.err |= e0;
        let walked = add_threads(&mut sums, signal);
        let (after, e2) = probe_u32(signal, conf!(signal_stats_seq));
        let steady = e1 == 0 && e2 == 0 && before == after && before & 1 == 0;
        if steady || attempt + 1 == ATTEMPTS {
            return (sums, sig, walked && steady);
        }
    }
    // Not reached (ATTEMPTS > 0); a failed sum if it were.
    let (sig, _) = Signal::load(0, scratch);
    let mut failed = Sums::of_signal(sig);
    failed.err = -1;
    (failed, sig, false)
}

#[inline(always)]
fn probe_u32(base: u64, off: u32) -> (u32, i64) {
    if off == ABSENT {
        return (0, -1);
    }
    read_at::<u32>(base, off).map_or((0, -1), |v| (v, 0))
}

/// get_mm_hiwater_rss() (include/linux/mm.h): max(hiwater_rss, get_mm_rss()), where
/// get_mm_rss() sums the file, anon and shmem counters, each read as get_mm_counter() does
/// (negative read as 0: percpu_counter_read_positive()). Before 6.16 exit_mm() has run and
/// the mm is NULL.
#[inline(always)]
fn mm_hiwater(task: Task) -> u64 {
    let Ok(mm) = read_at::<u64>(task.0, conf!(task_mm)) else {
        return ABSENT64;
    };
    if mm == 0 {
        return ABSENT64;
    }
    let Ok(hiwater) = read_at::<u64>(mm, conf!(mm_hiwater_rss)) else {
        return ABSENT64;
    };
    let mut rss = 0u64;
    for off in [conf!(mm_rss_file), conf!(mm_rss_anon), conf!(mm_rss_shmem)] {
        match read_at::<i64>(mm, off) {
            Ok(v) if v > 0 => rss += v as u64,
            Ok(_) => {}
            Err(ReadError) => return ABSENT64,
        }
    }
    if rss > hiwater {
        rss
    } else {
        hiwater
    }
}

macro_rules! put {
    ($u:ident . $field:ident = $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: `$u` points to a reserved ring-buffer record; a raw write of a u64 field.
        unsafe { addr_of_mut!((*$u).$field).write(value) }
    }};
}

/// Fills every field of `*u` (reserved ring-buffer memory) for the exiting `task`; returns
/// false when the own figures may miss a thread (see [`own_sums`]).
#[inline(always)]
pub fn fill(task: Task, u: *mut Usage) -> bool {
    // A per-CPU array's slot 0 is always there; were it not, no figure at all.
    let Some(scratch) = USAGE_SCRATCH.get_ptr_mut(0) else {
        // SAFETY: `u` points to the reserved record's usage block.
        unsafe { u.write(Usage::absent()) };
        return false;
    };
    // Before the sums, not between them and the puts: every way out of the thread loop
    // is verified with all that follows it (see exit.rs emit()).
    let mm_hiwater_pages = mm_hiwater(task);
    let signal = task.signal().unwrap_or(0);
    let (own, sig, complete) = own_sums(signal, scratch.cast());
    let ok = signal != 0 && own.err == 0;
    if signal != 0 && own.err != 0 {
        count(counter::KERNEL_READ_FAILED);
    }
    put!(
        u.runtime_ns = figure(
            own.runtime,
            ok,
            conf!(task_sum_exec_runtime),
            conf!(signal_sum_sched_runtime)
        )
    );
    put!(u.utime_ns = figure(own.utime, ok, conf!(task_utime), conf!(signal_utime)));
    put!(u.stime_ns = figure(own.stime, ok, conf!(task_stime), conf!(signal_stime)));
    put!(u.prev_utime_ns = sig.figure(conf!(signal_prev_utime)));
    put!(u.prev_stime_ns = sig.figure(conf!(signal_prev_stime)));
    put!(u.min_flt = figure(own.min_flt, ok, conf!(task_min_flt), conf!(signal_min_flt)));
    put!(u.maj_flt = figure(own.maj_flt, ok, conf!(task_maj_flt), conf!(signal_maj_flt)));
    put!(u.nvcsw = figure(own.nvcsw, ok, conf!(task_nvcsw), conf!(signal_nvcsw)));
    put!(u.nivcsw = figure(own.nivcsw, ok, conf!(task_nivcsw), conf!(signal_nivcsw)));
    put!(
        u.read_bytes = figure(
            own.read_bytes,
            ok,
            conf!(task_read_bytes),
            conf!(signal_read_bytes)
        )
    );
    put!(
        u.write_bytes = figure(
            own.write_bytes,
            ok,
            conf!(task_write_bytes),
            conf!(signal_write_bytes)
        )
    );
    put!(u.maxrss_pages = sig.figure(conf!(signal_maxrss)));
    put!(u.mm_hiwater_pages = mm_hiwater_pages);
    put!(u.cutime_ns = sig.figure(conf!(signal_cutime)));
    put!(u.cstime_ns = sig.figure(conf!(signal_cstime)));
    put!(u.cmin_flt = sig.figure(conf!(signal_cmin_flt)));
    put!(u.cmaj_flt = sig.figure(conf!(signal_cmaj_flt)));
    put!(u.cnvcsw = sig.figure(conf!(signal_cnvcsw)));
    put!(u.cnivcsw = sig.figure(conf!(signal_cnivcsw)));
    put!(u.cinblock = sig.figure(conf!(signal_cinblock)));
    put!(u.coublock = sig.figure(conf!(signal_coublock)));
    put!(u.cmaxrss_pages = sig.figure(conf!(signal_cmaxrss)));
    complete
}
