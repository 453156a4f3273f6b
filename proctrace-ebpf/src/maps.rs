use aya_ebpf::{
    macros::map,
    maps::{LruHashMap, PerCpuArray, RingBuf},
};
use proctrace_common::{counter, ExecEvent, WaitCall, WaitNote, USAGE_BLOCK_CAP};

/// All events, in one ring buffer so that their order is the order of reservation (the
/// ring buffer's producer lock serialises CPUs): a fork is always before the child's events.
/// Userspace sets the real size (`--ring-buffer-size`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 23, 0);

/// Per-CPU failure counters, indexed by `proctrace_common::counter`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Scratch space for building an exec record: far larger than the 512-byte stack.
#[map]
pub static EXEC_SCRATCH: PerCpuArray<ExecEvent> = PerCpuArray::with_max_entries(1, 0);

/// A copy of the exiting process's signal_struct counters (usage.rs). Per CPU and safe to
/// reuse: the kernel never runs one program twice at once on a CPU (a nested run is skipped
/// and counted in its `recursion_misses`, which proctrace reports).
#[map]
pub static USAGE_SCRATCH: PerCpuArray<[u8; USAGE_BLOCK_CAP]> = PerCpuArray::with_max_entries(1, 0);

/// Classic-tracepoint mode: child tid -> clone_flags, written by task_newtask and consumed by
/// sched_process_fork right after it in the same task (kernel/fork.c copy_process then
/// kernel_clone). LRU so a lost pairing can never fill it.
#[map]
pub static NEWTASK_FLAGS: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

/// Arguments of an in-flight wait4/waitid, keyed by caller tid: the syscall-exit tracepoint
/// only carries the return value.
#[map]
pub static WAIT_ARGS: LruHashMap<u32, WaitArgs> = LruHashMap::with_max_entries(16384, 0);

/// Pid waited for -> the latest wait call for that very pid (`target` is the caller's tgid):
/// the call that collects a child is kept here even when the caller's later calls push it out
/// of its `WAITERS` ring before the child's release (free.rs). LRU: nothing deletes entries.
#[map]
pub static WAITS_FOR_PID: LruHashMap<u32, WaitCall> = LruHashMap::with_max_entries(16384, 0);

/// tgid -> its latest wait-family call (wait_note.rs), read by userspace for the zombie
/// diagnosis (`parent_last_wait_ns`). Nothing deletes a note (that would cost the exit path a
/// map operation for every process, and few processes ever wait): LRU, so the map never fills
/// and every call is noted; the notes of processes gone, which userspace tells from a reused
/// pid's by `leader_start_ns`, are the first to go. An eviction makes a process that waited
/// read as one that never did since proctrace started: only a process that waited less
/// recently than 16384 others, i.e. one that has not waited for a long while.
#[map]
pub static WAITERS: LruHashMap<u32, WaitNote> = LruHashMap::with_max_entries(16384, 0);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct WaitArgs {
    /// `int *stat_addr` (wait4) or `struct siginfo *infop` (waitid), user memory.
    pub user_ptr: u64,
    /// 0 = wait4, 1 = waitid.
    pub syscall: u32,
    pub _pad: u32,
}

/// Adds one to a failure counter. Atomically: since 5.7 tracing programs run with migration
/// disabled but preemptible (kernel/trace/bpf_trace.c, bpf_trace_run*), so two programs on
/// one CPU can interleave a read-modify-write and lose a count.
#[inline(always)]
pub fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: the slot is a valid, 8-byte aligned u64 of this CPU's map value that lives
        // as long as the map; every writer goes through this atomic add.
        unsafe { atomic_add_one(slot) };
    }
}

/// Reserves a record of type `T` in the ring buffer, fills all of it with `build()` and
/// submits it; a full ring buffer is counted (`RINGBUF_FULL`). `build` runs after the
/// reservation so that the event's timestamp is taken in ring-buffer order.
#[inline(always)]
pub fn submit<T: 'static>(build: impl FnOnce() -> T) {
    match EVENTS.reserve::<T>(0) {
        Some(mut entry) => {
            entry.write(build());
            entry.submit(0);
        }
        None => count(counter::RINGBUF_FULL),
    }
}

/// Copies `bytes` (a complete record) into the ring buffer; a full ring buffer is counted.
#[inline(always)]
pub fn submit_bytes(bytes: &[u8]) {
    if EVENTS.output::<[u8]>(bytes, 0).is_err() {
        count(counter::RINGBUF_FULL);
    }
}

/// `AtomicU64::fetch_add` does not exist for the bpf target (its target spec has no atomic
/// read-modify-write), but the intrinsic lowers to BPF_ATOMIC | BPF_ADD (`lock *(u64 *)(..)
/// += ..`, the old BPF_XADD), which every kernel we support accepts.
///
/// # Safety
/// `slot` must be valid and 8-byte aligned.
#[cfg(target_arch = "bpf")]
#[inline(always)]
unsafe fn atomic_add_one(slot: *mut u64) {
    use core::intrinsics::{atomic_xadd, AtomicOrdering};
    // SAFETY: the caller's guarantee.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(slot, 1) };
}

/// The host build (proctrace's build-dependency) never runs; this keeps it compiling on stable.
///
/// # Safety
/// `slot` must be valid and 8-byte aligned.
#[cfg(not(target_arch = "bpf"))]
#[inline(always)]
unsafe fn atomic_add_one(slot: *mut u64) {
    use core::sync::atomic::{AtomicU64, Ordering};
    // SAFETY: the caller's guarantee.
    unsafe { AtomicU64::from_ptr(slot) }.fetch_add(1, Ordering::Relaxed);
}
