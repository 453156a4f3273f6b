//! `--uid NAME`: a user name to its uid, looked up once at start.
use std::ffi::CString;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum UserError {
    #[error(
        "no user named {0:?} on this host: give a numeric uid, or a name `getent passwd` lists"
    )]
    Unknown(String),
    #[error("{0:?} is not a user name: give a numeric uid or a user name")]
    Invalid(String),
    #[error("looking up user {name:?}: {err}; give a numeric uid instead")]
    Lookup { name: String, err: std::io::Error },
}

/// getpwnam_r(3): /etc/passwd or whatever the host's NSS configuration names. Retried with a
/// larger buffer on ERANGE (entries with many fields, or NSS back ends, can be long).
pub fn uid_of(name: &str) -> Result<u32, UserError> {
    let c_name = CString::new(name)
        .ok()
        .filter(|_| !name.is_empty())
        .ok_or_else(|| UserError::Invalid(name.to_owned()))?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: plain-old-data struct; getpwnam_r fills it in.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call, `buf` for `buf.len()` bytes.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        match rc {
            0 if result.is_null() => return Err(UserError::Unknown(name.to_owned())),
            0 => return Ok(pwd.pw_uid),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // POSIX lists these as "not found" too (glibc returns 0 and NULL; others differ).
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => {
                return Err(UserError::Unknown(name.to_owned()))
            }
            err => {
                return Err(UserError::Lookup {
                    name: name.to_owned(),
                    err: std::io::Error::from_raw_os_error(err),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_0_and_unknown_names_are_refused() {
        assert_eq!(uid_of("root").expect("root"), 0);
        let err = uid_of("no-such-user-proctrace").unwrap_err();
        assert!(matches!(err, UserError::Unknown(_)), "{err}");
        assert!(err.to_string().contains("give a numeric uid"), "{err}");
        assert!(matches!(uid_of("a\0b"), Err(UserError::Invalid(_))));
        assert!(matches!(uid_of(""), Err(UserError::Invalid(_))));
    }
}
