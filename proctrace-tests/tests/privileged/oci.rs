//! A kit for the container tests: real OCI runtimes (runc, crun, podman, installed from
//! Debian by `.ci/run`) running a busybox root filesystem, no image and no registry.
//!
//! - [`Bundle`]: a temporary OCI bundle, `rootfs/` (the host's static busybox with a symlink
//!   per applet) and `config.json` (`runc spec`, edited: the process's args, no terminal).
//! - [`Container`]: the bundle run by a runtime under a fresh 64-hex id (the form docker gives
//!   runc), so its cgroup (`/<id>` for runc and crun, `/libpod_parent/libpod-<id>` for podman
//!   with the cgroupfs manager) names it; killed and deleted on drop.
//!
//! A runtime that is missing or cannot start the container fails the test with the
//! runtime's own words: nothing here skips.

use std::{
    fs,
    io::Read,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

/// Where Debian's `busybox-static` puts its binary.
const BUSYBOX: &str = "/bin/busybox";

/// Time allowed for one runtime command (create, kill, delete).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Runc,
    Crun,
    /// podman with the cgroupfs manager and runc as its OCI runtime (see [`Container::run`]).
    Podman,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
            Runtime::Podman => "podman",
        }
    }

    /// The runtime's `--version` line; fails the test (never skips) when it does not run.
    pub fn require(self) -> String {
        let name = self.name();
        let out = Command::new(name)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "{name} is needed by the container tests and does not run ({e}); \
                     install it: `apt-get install {name}` (`.ci/run` installs it)"
                )
            });
        assert!(
            out.status.success(),
            "`{name} --version` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        if self != Runtime::Runc {
            // Every bundle's config.json comes from `runc spec`, and podman runs the
            // container with runc.
            Runtime::Runc.require();
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// The command with the global options the tests use.
    fn command(self) -> Command {
        let mut cmd = Command::new(self.name());
        if self == Runtime::Podman {
            // No systemd (no cgroup manager over D-Bus, no journald) is assumed: the cgroupfs
            // manager (the container's cgroup is `/libpod_parent/libpod-<id>`) and events in a
            // file. runc as the OCI runtime: podman's default here is crun, which needs
            // what `V1Controllers` does on hybrid hosts; crun has its own test.
            cmd.args([
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
                "--runtime",
                "runc",
            ]);
        }
        cmd.stdin(Stdio::null());
        cmd
    }
}

/// 64 random lowercase hex digits: a container id as docker makes them.
pub fn container_id() -> String {
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `cmd` to its end, at most [`COMMAND_TIMEOUT`]: one that hangs is killed and fails the
/// test.
fn output_of(cmd: &mut Command) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let begin = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if begin.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {COMMAND_TIMEOUT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Read `pipe` to its end in a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

/// `cmd`'s stdout; fails the test with its stderr when it fails.
fn stdout_of(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let out = output_of(cmd);
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the ELF file at `path` asks for a program interpreter (a dynamic executable).
fn is_dynamic(path: &Path) -> bool {
    let elf = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]) as usize;
    assert!(
        elf.len() > 64 && elf.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a little-endian ELF64 file",
        path.display()
    );
    let mut phoff = [0u8; 8];
    phoff.copy_from_slice(&elf[0x20..0x28]);
    let (phoff, phentsize, phnum) = (
        u64::from_le_bytes(phoff) as usize,
        u16_at(0x36),
        u16_at(0x38),
    );
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        // PT_INTERP
        elf.get(at..at + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

/// A temporary OCI bundle, removed on drop.
pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    /// `rootfs/` holds the host's static busybox (`busybox-static`) and a relative symlink per
    /// applet in `/bin`; `config.json` is `runc spec`'s with `process.args` = `args` and no
    /// terminal (the runtimes then hand the container their own stdio).
    pub fn new(args: &[&str]) -> Bundle {
        let dir = std::env::temp_dir().join(format!(
            "proctrace-oci-{}-{}",
            std::process::id(),
            &container_id()[..8]
        ));
        let bundle = Bundle { dir };
        let rootfs = bundle.rootfs();
        for sub in ["bin", "proc", "sys", "dev", "tmp", "etc", "run"] {
            fs::create_dir_all(rootfs.join(sub))
                .unwrap_or_else(|e| panic!("create {}: {e}", rootfs.join(sub).display()));
        }
        let busybox = Path::new(BUSYBOX);
        assert!(
            busybox.exists(),
            "{BUSYBOX} is missing: the container tests build their root filesystem from \
             Debian's busybox-static (`apt-get install busybox-static`; `.ci/run` installs it)"
        );
        assert!(
            !is_dynamic(busybox),
            "{BUSYBOX} is linked dynamically (Debian's `busybox`), so it cannot run alone in a \
             container's root filesystem: install `busybox-static` instead"
        );
        fs::copy(busybox, rootfs.join("bin/busybox")).expect("copy busybox into the rootfs");
        let applets = stdout_of(Command::new(BUSYBOX).arg("--list"));
        for applet in applets.lines().map(str::trim) {
            if !applet.is_empty() && applet != "busybox" {
                symlink("busybox", rootfs.join("bin").join(applet))
                    .unwrap_or_else(|e| panic!("symlink /bin/{applet}: {e}"));
            }
        }

        stdout_of(
            Command::new("runc")
                .args(["spec", "--bundle"])
                .arg(&bundle.dir),
        );
        let path = bundle.dir.join("config.json");
        let text = fs::read_to_string(&path).expect("read config.json");
        let mut config: Value = serde_json::from_str(&text).expect("runc spec's config.json");
        config["process"]["terminal"] = Value::Bool(false);
        config["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        fs::write(
            &path,
            serde_json::to_string_pretty(&config).expect("config.json"),
        )
        .expect("write config.json");
        bundle
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A running container.
pub struct Container {
    pub runtime: Runtime,
    /// The runtime's id for it: ours for runc and crun, podman's own for podman.
    pub id: String,
    /// Its init (PID 1 inside), as the host numbers it.
    pub init_pid: u32,
    /// runc and crun run in the foreground: the runtime process is the init's parent and
    /// reaps it.
    foreground: Option<Child>,
    bundle: Bundle,
    /// Dropped after the container is deleted (field order).
    _controllers: Option<V1Controllers>,
}

impl Container {
    /// Start `args` in a new container and wait until it runs.
    ///
    /// - runc and crun: `<runtime> run --bundle <dir> <id>` in the foreground (stdin and
    ///   stdout /dev/null, stderr a file in the bundle, shown when it fails);
    /// - podman: `podman run -d --rm --network none --rootfs <rootfs>`, with `--ulimit
    ///   nofile=1024:1024 --ulimit nproc=1024:1024`: podman's defaults (1048576 open files)
    ///   raise the hard limit, which needs CAP_SYS_RESOURCE, and root lacks it in some
    ///   sandboxes (e.g. the development machines: `error setting rlimit type 7: operation
    ///   not permitted`).
    pub fn run(runtime: Runtime, args: &[&str]) -> Container {
        let bundle = Bundle::new(args);
        let controllers = (runtime == Runtime::Crun)
            .then(V1Controllers::for_crun)
            .flatten();
        let (id, foreground) = match runtime {
            Runtime::Runc | Runtime::Crun => {
                let id = container_id();
                let log = fs::File::create(bundle.dir.join("runtime.stderr"))
                    .expect("create runtime.stderr");
                let child = runtime
                    .command()
                    .args(["run", "--bundle"])
                    .arg(&bundle.dir)
                    .arg(&id)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap_or_else(|e| panic!("spawn {}: {e}", runtime.name()));
                (id, Some(child))
            }
            Runtime::Podman => {
                let out = stdout_of(
                    runtime
                        .command()
                        .args(["run", "-d", "--rm", "--network", "none"])
                        .args(["--ulimit", "nofile=1024:1024"])
                        .args(["--ulimit", "nproc=1024:1024"])
                        .arg("--rootfs")
                        .arg(bundle.rootfs())
                        .args(args),
                );
                let id = out.lines().last().unwrap_or_default().trim().to_owned();
                assert!(
                    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                    "podman run printed no container id: {out:?}"
                );
                (id, None)
            }
        };
        let mut container = Container {
            runtime,
            id,
            init_pid: 0,
            foreground,
            bundle,
            _controllers: controllers,
        };
        container.init_pid = container.wait_running();
        container
    }

    /// Poll the runtime's state until the container runs (10 s at most); its init's pid.
    fn wait_running(&mut self) -> u32 {
        let begin = Instant::now();
        loop {
            if let Some(child) = self.foreground.as_mut() {
                if let Some(status) = child.try_wait().expect("wait") {
                    panic!(
                        "{} exited ({status}) before the container ran: {}",
                        self.runtime.name(),
                        self.runtime_stderr()
                    );
                }
            }
            let mut cmd = self.runtime.command();
            match self.runtime {
                Runtime::Podman => cmd.args(["inspect", "--format", "{{.State.Pid}}", &self.id]),
                Runtime::Runc | Runtime::Crun => cmd.args(["state", &self.id]),
            };
            let out = output_of(&mut cmd);
            let text = String::from_utf8_lossy(&out.stdout);
            let pid = match self.runtime {
                Runtime::Podman => text.trim().parse::<u32>().ok(),
                Runtime::Runc | Runtime::Crun => serde_json::from_str::<Value>(&text)
                    .ok()
                    .filter(|state| state["status"] == "running")
                    .and_then(|state| state["pid"].as_u64())
                    .and_then(|pid| u32::try_from(pid).ok()),
            };
            if let Some(pid) = pid.filter(|&pid| pid > 0) {
                return pid;
            }
            assert!(
                begin.elapsed() < Duration::from_secs(10),
                "{} {} does not run after 10 s: {} {}",
                self.runtime.name(),
                self.id,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.runtime_stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL to the init (`<runtime> kill`); for runc and crun, also wait (10 s at most) for
    /// the foreground runtime to exit, once it has reaped the init.
    pub fn kill(&mut self) {
        let mut cmd = self.runtime.command();
        match self.runtime {
            Runtime::Podman => cmd.args(["kill", "--signal", "KILL", &self.id]),
            Runtime::Runc | Runtime::Crun => cmd.args(["kill", &self.id, "KILL"]),
        };
        stdout_of(&mut cmd);
        if let Some(child) = self.foreground.as_mut() {
            let begin = Instant::now();
            while child.try_wait().expect("wait").is_none() {
                assert!(
                    begin.elapsed() < Duration::from_secs(10),
                    "{} still runs 10 s after its container was killed",
                    self.runtime.name()
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn runtime_stderr(&self) -> String {
        fs::read_to_string(self.bundle.dir.join("runtime.stderr")).unwrap_or_default()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let mut cmd = self.runtime.command();
        match self.runtime {
            // --time 0: SIGKILL at once (the default, SIGTERM then 10 s, is lost on a PID 1
            // that has no handler).
            Runtime::Podman => cmd.args(["rm", "--force", "--time", "0", &self.id]),
            Runtime::Runc | Runtime::Crun => cmd.args(["delete", "--force", &self.id]),
        };
        let _ = output_of(cmd.stdout(Stdio::null()).stderr(Stdio::null()));
        if let Some(mut child) = self.foreground.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// crun 1.8 refuses a hybrid host whose cgroup2 (`/sys/fs/cgroup/unified`) has controllers:
/// `cgroups in hybrid mode not supported, drop all controllers from cgroupv2`. systemd's
/// hybrid layout mounts every controller as v1, so cgroup2 has none; a host that leaves one
/// out (this project's development machines leave `hugetlb` on cgroup2) gets it mounted as a
/// v1 hierarchy at `/sys/fs/cgroup/<name>` for the test (the kernel moves a controller that no
/// cgroup2 cgroup uses). On drop the hierarchies are emptied and unmounted, which gives the
/// controllers back to cgroup2: the host is left as it was.
pub struct V1Controllers {
    /// Each controller moved, its mount point, whether we made that directory.
    moved: Vec<(String, PathBuf, bool)>,
}

impl V1Controllers {
    /// `None` when there is nothing to move (not hybrid, or no controller on cgroup2).
    fn for_crun() -> Option<V1Controllers> {
        let unified = Path::new("/sys/fs/cgroup/unified");
        let controllers = fs::read_to_string(unified.join("cgroup.controllers")).ok()?;
        let mut fix = V1Controllers { moved: Vec::new() };
        for name in controllers.split_whitespace() {
            let dir = Path::new("/sys/fs/cgroup").join(name);
            let made = !dir.exists();
            if made {
                fs::create_dir(&dir).unwrap_or_else(|e| {
                    panic!(
                        "crun refuses this hybrid host while its cgroup2 has the {name} \
                         controller; making a mount point for it as v1 failed: mkdir {}: {e}",
                        dir.display()
                    )
                });
            }
            let out = output_of(
                Command::new("mount")
                    .args(["-t", "cgroup", "-o", name, "cgroup"])
                    .arg(&dir),
            );
            if !out.status.success() {
                if made {
                    let _ = fs::remove_dir(&dir);
                }
                panic!(
                    "crun refuses this hybrid host while its cgroup2 has the {name} controller; \
                     mounting it as v1 at {} failed: {}",
                    dir.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            fix.moved.push((name.to_owned(), dir, made));
        }
        Some(fix)
    }
}

/// `controller`'s hierarchy id (0: cgroup2 or unbound) and number of cgroups (removed ones
/// count until they are freed) in /proc/cgroups.
fn hierarchy_of(controller: &str) -> Option<(u32, u32)> {
    let text = fs::read_to_string("/proc/cgroups").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        if fields.next() != Some(controller) {
            return None;
        }
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    })
}

/// Poll `done` every 20 ms for at most `within`; its last answer.
fn poll(within: Duration, done: impl Fn() -> bool) -> bool {
    let begin = Instant::now();
    loop {
        if done() {
            return true;
        }
        if begin.elapsed() > within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Remove every cgroup below `dir`, deepest first.
fn remove_cgroups_below(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroups_below(&entry.path());
            let _ = fs::remove_dir(entry.path());
        }
    }
}

impl Drop for V1Controllers {
    fn drop(&mut self) {
        for (name, dir, made) in &self.moved {
            // The kernel frees an unmounted hierarchy, and gives its controller back to
            // cgroup2, an RCU grace period later, and only if no removed cgroup of it was
            // still dying at the unmount: otherwise mount it again and unmount once more.
            let mut restored = false;
            for attempt in 0..5 {
                if attempt > 0 {
                    let _ = Command::new("mount")
                        .args(["-t", "cgroup", "-o", name, "cgroup"])
                        .arg(dir)
                        .stderr(Stdio::null())
                        .status();
                }
                remove_cgroups_below(dir);
                // Only the root left, the removed ones freed.
                poll(Duration::from_secs(2), || {
                    hierarchy_of(name).is_some_and(|(_, cgroups)| cgroups <= 1)
                });
                let _ = Command::new("umount").arg(dir).status();
                restored = poll(Duration::from_secs(1), || {
                    hierarchy_of(name).is_some_and(|(id, _)| id == 0)
                });
                if restored {
                    break;
                }
            }
            if *made {
                let _ = fs::remove_dir(dir);
            }
            if !restored {
                eprintln!(
                    "warning: the {name} cgroup controller did not go back to cgroup2 after \
                     the crun test; crun keeps working, the host's cgroup layout differs"
                );
            }
        }
    }
}
