//! Where the output thread writes: stdout (or any descriptor handed over), or a file named
//! by `--output` that it can reopen, for log rotation (rename, then SIGHUP).
//!
//! A file is opened for appending, so records never overwrite what is there, and a file
//! proctrace creates gets mode 0640 exactly: open(2) applies the umask to the mode it is
//! given, so the mode is set again with fchmod(2) once created. A file that existed keeps
//! its mode and owner.
use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::{
        fd::AsRawFd,
        unix::fs::{OpenOptionsExt, PermissionsExt},
    },
    path::{Path, PathBuf},
};

/// The mode of a file `--output` creates: the owner writes, its group (a log shipper's) reads.
pub const CREATE_MODE: u32 = 0o640;

pub struct Sink {
    file: File,
    /// The path of a reopenable file; `None` for stdout.
    path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open {path} to append records: {source}; give --output a path in an existing \
     directory that proctrace may write to"
)]
pub struct OpenError {
    path: String,
    #[source]
    source: io::Error,
}

impl From<File> for Sink {
    /// A descriptor proctrace was handed (stdout): there is no path to reopen.
    fn from(file: File) -> Self {
        Sink { file, path: None }
    }
}

impl Sink {
    /// Opens (or creates, mode 0640) `path` for appending.
    pub fn open(path: &Path) -> Result<Sink, OpenError> {
        let file = open_append(path).map_err(|source| OpenError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Sink {
            file,
            path: Some(path.to_owned()),
        })
    }

    /// What the records go to, for messages: the path, or `stdout`.
    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "stdout".to_owned(), |p| p.display().to_string())
    }

    pub fn is_reopenable(&self) -> bool {
        self.path.is_some()
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Opens the path again (after a rotation it names a new file) and writes there from
    /// now on. On failure the old file stays in use: records are never dropped for it.
    pub fn reopen(&mut self) -> io::Result<()> {
        if let Some(path) = &self.path {
            self.file = open_append(path)?;
        }
        Ok(())
    }

    /// Writes all of `bytes`. If that fails part way into a regular file (ENOSPC, EIO), what
    /// was written of `bytes` is cut off again, so the file still ends with a whole line and
    /// a log shipper never reads half a record.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut written = 0;
        while written < bytes.len() {
            match self.file.write(&bytes[written..]) {
                Ok(0) => {
                    let err = io::Error::from(io::ErrorKind::WriteZero);
                    return Err(self.cut_back(written, err));
                }
                Ok(n) => written += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(self.cut_back(written, err)),
            }
        }
        Ok(())
    }

    /// Truncates the last `written` bytes of a regular file; returns `err` either way.
    fn cut_back(&self, written: usize, err: io::Error) -> io::Error {
        if written == 0 {
            return err;
        }
        if let Ok(meta) = self.file.metadata() {
            if meta.is_file() {
                let keep = meta.len().saturating_sub(written as u64);
                // Best effort: the write error is what gets reported.
                let _ = self.file.set_len(keep);
            }
        }
        err
    }
}

/// Opens `path` for appending, creating it with mode [`CREATE_MODE`] if it does not exist.
/// Exclusive creation first tells whether the file is ours to chmod; a file removed between
/// the two attempts is created on the next turn.
fn open_append(path: &Path) -> io::Result<File> {
    const ATTEMPTS: usize = 3;
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    for _ in 0..ATTEMPTS {
        match options().create_new(true).open(path) {
            Ok(file) => {
                // File::set_permissions is fchmod(2) on the open descriptor: no path race.
                file.set_permissions(std::fs::Permissions::from_mode(CREATE_MODE))?;
                return blocking(file);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
        match options().open(path) {
            Ok(file) => return blocking(file),
            Err(err) if err.kind() == io::ErrorKind::NotFound => last = err,
            Err(err) => return Err(err),
        }
    }
    Err(last)
}

/// O_APPEND (each write lands at the end, whoever else appends); O_NOCTTY (a terminal named
/// by --output never becomes our controlling terminal); O_NONBLOCK for the open only: opening
/// a FIFO without a reader fails with ENXIO (fifo(7)) instead of blocking start-up for ever.
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .append(true)
        .mode(CREATE_MODE)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC);
    options
}

/// Clears O_NONBLOCK again: the output thread's writes may wait, the event loop never does.
fn blocking(file: File) -> io::Result<File> {
    let fd = file.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor `file` owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags == -1 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A fresh directory under the temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("proctrace-sink-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_0640_whatever_the_umask() {
        let dir = TempDir::new("mode");
        let path = dir.0.join("out.jsonl");
        // SAFETY: umask only changes this process's creation mask; restored below. A test
        // creating a file meanwhile gets a narrower mode, which none of them checks.
        let old = unsafe { libc::umask(0o077) };
        let opened = Sink::open(&path);
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        opened.expect("open");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn an_existing_file_keeps_its_lines_and_mode() {
        let dir = TempDir::new("append");
        let path = dir.0.join("out.jsonl");
        std::fs::write(&path, "old\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut sink = Sink::open(&path).expect("open");
        sink.write_all(b"new\n").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old\nnew\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(sink.name(), path.display().to_string());
    }

    #[test]
    fn a_reopen_after_a_rename_writes_to_a_new_file() {
        let dir = TempDir::new("rotate");
        let path = dir.0.join("out.jsonl");
        let rotated = dir.0.join("out.jsonl.1");
        let mut sink = Sink::open(&path).expect("open");
        sink.write_all(b"one\n").expect("write");
        std::fs::rename(&path, &rotated).expect("rename");
        sink.write_all(b"two\n").expect("write");
        sink.reopen().expect("reopen");
        sink.write_all(b"three\n").expect("write");
        assert_eq!(
            std::fs::read_to_string(&rotated).expect("read"),
            "one\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "three\n");
        assert_eq!(mode(&path), 0o640);
    }

    #[test]
    fn a_failed_reopen_keeps_the_old_file() {
        let dir = TempDir::new("gone");
        let sub = dir.0.join("logs");
        std::fs::create_dir(&sub).expect("mkdir");
        let path = sub.join("out.jsonl");
        let mut sink = Sink::open(&path).expect("open");
        let kept = dir.0.join("kept.jsonl");
        std::fs::rename(&path, &kept).expect("rename");
        std::fs::remove_dir(&sub).expect("rmdir");
        let err = sink.reopen().expect_err("the directory is gone");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        sink.write_all(b"still\n").expect("write");
        assert_eq!(std::fs::read_to_string(&kept).expect("read"), "still\n");
    }

    #[test]
    fn bad_paths_are_one_sentence() {
        let dir = TempDir::new("bad");
        for (path, cause) in [
            (dir.0.clone(), "Is a directory"),
            (dir.0.join("missing/out.jsonl"), "No such file or directory"),
        ] {
            let text = Sink::open(&path).err().expect("refused").to_string();
            assert!(
                text.contains(cause) && text.contains("give --output"),
                "{text}"
            );
            assert_eq!(text.lines().count(), 1, "{text}");
        }
    }

    #[test]
    fn a_fifo_without_reader_is_refused_not_waited_for() {
        let dir = TempDir::new("fifo");
        let path = dir.0.join("fifo");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let text = Sink::open(&path).err().expect("no reader").to_string();
        assert!(text.contains("No such device or address"), "{text}");
    }

    #[test]
    fn a_cut_back_leaves_whole_lines() {
        let dir = TempDir::new("cut");
        let path = dir.0.join("out.jsonl");
        let sink = Sink::open(&path).expect("open");
        std::fs::write(&path, "whole\nhal").expect("write");
        let err = sink.cut_back(3, io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "whole\n");
    }

    #[test]
    fn a_failed_write_is_reported() {
        let full = OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut sink = Sink::from(full);
        let err = sink.write_all(b"x\n").expect_err("ENOSPC");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(sink.name(), "stdout");
        assert!(!sink.is_reopenable());
        assert!(sink.reopen().is_ok(), "stdout: nothing to reopen");
    }
}
