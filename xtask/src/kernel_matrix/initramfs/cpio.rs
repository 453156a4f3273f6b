//! A writer of the "new ASCII" (newc) cpio format the kernel unpacks
//! (Documentation/driver-api/early-userspace/buffer-format.rst).

use std::{
    fs::File,
    io::{self, Read, Write},
    path::Path,
};

use anyhow::{ensure, Context as _, Result};

/// Entries are written in order; [`Cpio::finish`] adds the trailer.
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
}
