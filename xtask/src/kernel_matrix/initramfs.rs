//! The guests' initramfs: an uncompressed cpio (newc) archive with a static busybox and its
//! applet links, the static proctrace, proctrace-scenario and privileged-test binaries, the
//! test script and an `/init` that mounts the kernel filesystems, runs the script and powers
//! off. Written here rather than with cpio(1), which the machines do not have.

use std::{
    fs::File,
    io::{self, BufWriter, Read, Write},
    path::Path,
};

use anyhow::{ensure, Context as _, Result};

/// Where the binaries go in the guest.
pub const GUEST_DIR: &str = "/opt/proctrace";

/// Prints the `@@matrix` lines the report is built from, runs proctrace once for its start
/// record, then the test binary (extra arguments are passed on), then each test that failed
/// once more on its own unless PROCTRACE_MATRIX_RETRY=0. Runs in the guests (from /init)
/// and on the host, with busybox or the host's tools: POSIX sh, awk, head, mktemp, sed, tee,
/// uname. Expects PROCTRACE_BIN, PROCTRACE_SCENARIO_BIN and PROCTRACE_TESTS in the
/// environment.
pub const RUN_TESTS_SH: &str = r#"#!/bin/sh
# kernel-matrix: one run of the privileged tests on this kernel (see xtask/src/kernel_matrix).
echo "@@matrix uname $(uname -r)"
out=$(mktemp) err=$(mktemp) log=$(mktemp)
"$PROCTRACE_BIN" --duration 1s >"$out" 2>"$err"
echo "@@matrix start-exit $?"
echo "@@matrix start $(head -n 1 "$out")"
sed 's/^/@@matrix start-stderr /' "$err"
echo "@@matrix tests-begin"
# --report-time (per-test durations) is unstable in libtest; RUSTC_BOOTSTRAP lets the test
# binary accept it at run time.
tests() {
    RUSTC_BOOTSTRAP=1 "$PROCTRACE_TESTS" --test-threads=1 -Z unstable-options --report-time "$@" 2>&1
}
{
    tests "$@"
    echo "@@matrix tests-exit $?"
} | tee "$log"
if [ "${PROCTRACE_MATRIX_RETRY:-1}" != 0 ]; then
    # The names libtest lists under its last "failures:" heading.
    failed=$(awk '/^failures:$/ { names = ""; list = 1; next }
                  /^test result:/ { list = 0 }
                  list && /^    [^ ]/ { names = names " " $1 }
                  END { print names }' "$log")
    for name in $failed; do
        echo "@@matrix retry $name"
        tests --exact "$name"
        echo "@@matrix retry-exit $?"
    done
fi
rm -f "$out" "$err" "$log"
"#;

/// How the test binary runs (in the guests and on the host).
#[derive(Debug, Default)]
pub struct TestRun {
    /// Extra arguments (a name filter, `--skip NAME`).
    pub args: Vec<String>,
    /// Extra environment variables (tests' own knobs).
    pub env: Vec<(String, String)>,
    /// Run each failed test once more.
    pub retry: bool,
}

impl TestRun {
    /// What differs from a plain run of the whole suite, for the report.
    pub fn deviations(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.args.is_empty() {
            notes.push(format!(
                "the test binary ran with extra arguments {:?}: not the full suite",
                self.args
            ));
        }
        for (key, value) in &self.env {
            notes.push(format!("the tests ran with {key}={value}"));
        }
        notes
    }
}

/// PID 1 of the guests.
fn init_script(run: &TestRun) -> String {
    let args: Vec<String> = run.args.iter().map(|a| shell_quote(a)).collect();
    let env: String = run
        .env
        .iter()
        .map(|(key, value)| format!("export {key}={}\n", shell_quote(value)))
        .collect();
    format!(
        r#"#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Keep kernel messages off the console while the tests print; they are dumped at the end.
dmesg -n 1
echo "@@matrix booted $(cut -d ' ' -f 1 /proc/uptime)"
export PROCTRACE_BIN={dir}/proctrace
export PROCTRACE_SCENARIO_BIN={dir}/proctrace-scenario
export PROCTRACE_TESTS={dir}/privileged
export PROCTRACE_MATRIX_RETRY={retry}
{env}sh {dir}/run-tests.sh {args}
echo "@@matrix uptime $(cut -d ' ' -f 1 /proc/uptime)"
echo "@@matrix dmesg-begin"
dmesg
echo "@@matrix dmesg-end"
echo "@@matrix done"
poweroff -f
"#,
        dir = GUEST_DIR,
        args = args.join(" "),
        retry = u8::from(run.retry),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What goes into the archive.
pub struct Contents<'a> {
    pub busybox: &'a Path,
    /// `busybox --list-full` output: applet paths relative to /.
    pub applets: &'a str,
    pub proctrace: &'a Path,
    pub scenario: &'a Path,
    pub tests: &'a Path,
    pub run: &'a TestRun,
}

/// Writes the initramfs to `out`.
pub fn write(out: &Path, contents: &Contents) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut cpio = Cpio::new(BufWriter::new(file));
    for dir in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "dev",
        "proc",
        "sys",
        "tmp",
        "root",
        "etc",
        "opt",
        &GUEST_DIR[1..],
    ] {
        cpio.dir(dir)?;
    }
    cpio.file_from("bin/busybox", 0o755, contents.busybox)?;
    let mut linked = 0;
    for applet in contents.applets.lines().map(str::trim) {
        let applet = applet.trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" || applet.starts_with("linuxrc") {
            continue;
        }
        ensure!(
            applet.starts_with("bin/")
                || applet.starts_with("sbin/")
                || applet.starts_with("usr/bin/")
                || applet.starts_with("usr/sbin/"),
            "unexpected busybox applet path {applet:?}"
        );
        cpio.symlink(applet, "/bin/busybox")?;
        linked += 1;
    }
    ensure!(
        linked > 50,
        "busybox --list-full named only {linked} applets"
    );
    cpio.file("etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
    cpio.file("etc/group", 0o644, b"root:x:0:\n")?;
    let dir = &GUEST_DIR[1..];
    cpio.file_from(&format!("{dir}/proctrace"), 0o755, contents.proctrace)?;
    cpio.file_from(
        &format!("{dir}/proctrace-scenario"),
        0o755,
        contents.scenario,
    )?;
    cpio.file_from(&format!("{dir}/privileged"), 0o755, contents.tests)?;
    cpio.file(
        &format!("{dir}/run-tests.sh"),
        0o755,
        RUN_TESTS_SH.as_bytes(),
    )?;
    cpio.file("init", 0o755, init_script(contents.run).as_bytes())?;
    cpio.finish()?
        .flush()
        .with_context(|| format!("writing {}", out.display()))
}

/// A writer of the "new ASCII" (newc) cpio format the kernel unpacks
/// (Documentation/driver-api/early-userspace/buffer-format.rst).
pub struct Cpio<W: Write> {
    out: W,
    ino: u32,
    written: u64,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

impl<W: Write> Cpio<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            ino: 0,
            written: 0,
        }
    }

    pub fn dir(&mut self, name: &str) -> io::Result<()> {
        self.header(name, S_IFDIR | 0o755, 0, 2)
    }

    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.header(name, S_IFREG | perm, data.len() as u64, 1)?;
        self.put(data)?;
        self.pad()
    }

    pub fn file_from(&mut self, name: &str, perm: u32, path: &Path) -> Result<()> {
        let mut src = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = src.metadata()?.len();
        self.header(name, S_IFREG | perm, len, 1)?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = src.read(&mut buf)?;
            ensure!(n > 0, "{} shrank while being archived", path.display());
            let n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.put(&buf[..n])?;
            left -= n as u64;
        }
        Ok(self.pad()?)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.header(name, S_IFLNK | 0o777, target.len() as u64, 1)?;
        self.put(target.as_bytes())?;
        self.pad()
    }

    /// The trailer entry; returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.ino = 0;
        self.header("TRAILER!!!", 0, 0, 1)?;
        Ok(self.out)
    }

    fn header(&mut self, name: &str, mode: u32, size: u64, nlink: u32) -> io::Result<()> {
        let size = u32::try_from(size)
            .map_err(|_| io::Error::other(format!("{name}: too large for cpio")))?;
        if mode != 0 {
            self.ino += 1;
        }
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            size,
            0, // devmajor
            0, // devminor
            0, // rdevmajor
            0, // rdevminor
            name.len() as u32 + 1,
            0, // check
        ];
        let mut header = String::from("070701");
        for field in fields {
            header.push_str(&format!("{field:08x}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()
    }

    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Headers+names and file data are each padded to 4 bytes.
    fn pad(&mut self) -> io::Result<()> {
        let rem = (4 - self.written % 4) % 4;
        self.put(&[0; 3][..rem as usize])
    }
}

/// Whether the ELF file at `path` is statically linked (no PT_INTERP program header), as
/// the guests have no libc.
pub fn is_static_elf(path: &Path) -> Result<bool> {
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

    #[test]
    fn writes_newc_entries() {
        let mut cpio = Cpio::new(Vec::new());
        cpio.dir("bin").unwrap();
        cpio.file("bin/x", 0o755, b"hello").unwrap();
        cpio.symlink("bin/sh", "/bin/busybox").unwrap();
        let out = cpio.finish().unwrap();
        assert_eq!(out.len() % 4, 0);
        let text = String::from_utf8_lossy(&out);
        // The first header: inode 1, a directory 0755, nlink 2, name "bin" (4 bytes with NUL).
        assert!(text.starts_with(
            "07070100000001000041ed00000000000000000000000200000000000000000000000000000000\
             00000000000000000000000400000000bin\0"
        ));
        // Header (110) + "bin\0" (4) = 114, padded to 116.
        assert_eq!(&out[116..122], b"070701");
        let file_header = &text[116..];
        assert_eq!(&file_header[14..22], "000081ed", "regular file 0755");
        assert_eq!(&file_header[54..62], "00000005", "file size");
        assert!(text.contains("bin/x\0hello\0\0\0"));
        assert!(text.contains("bin/sh\0\0\0\0/bin/busybox"));
        assert!(text.contains("TRAILER!!!\0"));
    }

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

    #[test]
    fn init_passes_test_arguments_quoted() {
        let run = TestRun {
            args: vec!["--skip".into(), "it's".into()],
            env: vec![("PROCTRACE_CHURN_SECS".into(), "20".into())],
            retry: false,
        };
        let init = init_script(&run);
        assert!(init.contains(
            "export PROCTRACE_CHURN_SECS='20'\nsh /opt/proctrace/run-tests.sh '--skip' 'it'\\''s'\n"
        ));
        assert!(init.contains("export PROCTRACE_MATRIX_RETRY=0\n"));
        assert!(init.ends_with("poweroff -f\n"));
        assert_eq!(run.deviations().len(), 2);
        assert!(TestRun::default().deviations().is_empty());
    }
}
