//! Load-time configuration: offsets from tracefs formats and BTF, written by userspace with
//! `EbpfLoader::override_global("CONFIG", ..)` before the programs are verified.
use proctrace_common::Config;

/// Lives in .rodata, which the loader freezes: the verifier then treats every field as a known
/// constant and prunes branches on `ABSENT` fields it can prove dead.
#[no_mangle]
pub(crate) static CONFIG: Config = Config::absent();

/// Read one field without letting the compiler fold the default value in.
macro_rules! conf {
    ($field:ident) => {
        // SAFETY: CONFIG is a valid static; the volatile read keeps the load in the program.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!($crate::config::CONFIG.$field)) }
    };
}
pub(crate) use conf;
