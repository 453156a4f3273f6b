use aya_ebpf::{
    macros::map,
    maps::{LruHashMap, PerCpuArray, RingBuf},
};
use tracer_common::{counter, ExecEvent};

/// All events, in one ring buffer so that their order is the order of reservation (the
/// ring buffer's producer lock serialises CPUs): a fork is always before the child's events.
/// Userspace sets the real size (`--ring-buffer-size`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(1 << 23, 0);

/// Per-CPU failure counters, indexed by `tracer_common::counter`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Scratch space for building an exec record: far larger than the 512-byte stack.
#[map]
pub static EXEC_SCRATCH: PerCpuArray<ExecEvent> = PerCpuArray::with_max_entries(1, 0);

/// Classic-tracepoint mode: child tid -> clone_flags, written by task_newtask and consumed by
/// sched_process_fork right after it in the same task (kernel/fork.c copy_process then
/// kernel_clone). LRU so a lost pairing can never fill it.
#[map]
pub static NEWTASK_FLAGS: LruHashMap<u32, u64> = LruHashMap::with_max_entries(4096, 0);

/// Arguments of an in-flight wait4/waitid, keyed by caller tid: the syscall-exit tracepoint
/// only carries the return value.
#[map]
pub static WAIT_ARGS: LruHashMap<u32, WaitArgs> = LruHashMap::with_max_entries(16384, 0);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct WaitArgs {
    /// `int *stat_addr` (wait4) or `struct siginfo *infop` (waitid), user memory.
    pub user_ptr: u64,
    /// 0 = wait4, 1 = waitid.
    pub syscall: u32,
    pub _pad: u32,
}

#[inline(always)]
pub fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, preemption is disabled while a tracing program runs.
        unsafe { *slot += 1 };
    }
}
