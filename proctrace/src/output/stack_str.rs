//! Short strings built on the stack before they are serialised: `serialize_str` of a whole
//! string, instead of `collect_str`, whose adapter escapes each piece `Display` writes and
//! goes through `core::fmt` for every record (8 % of proctrace's CPU in a fork storm, mostly
//! the `time` and `proc_id` of every record).
use std::fmt;

/// At most `N` bytes of UTF-8, written whole `&str` at a time.
pub struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackStr<N> {
    pub const fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only whole `&str`s were copied in (`write_str` refuses a piece that does not fit),
        // so the bytes are UTF-8; the empty fallback is unreachable.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let room = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn keeps_what_fits_and_refuses_the_rest_whole() {
        let mut s = StackStr::<8>::new();
        assert_eq!(s.as_str(), "");
        s.write_str("abc").expect("fits");
        s.write_str("défg").expect("fits exactly: é is two bytes");
        assert_eq!(s.as_str(), "abcdéfg");
        assert!(s.write_str("h").is_err());
        assert_eq!(
            s.as_str(),
            "abcdéfg",
            "a refused piece leaves nothing behind"
        );
    }
}
