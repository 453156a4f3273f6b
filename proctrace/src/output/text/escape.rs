//! Hostile strings made safe for a terminal line. `comm`, `filename` and `argv` are whatever a
//! process chose (prctl(PR_SET_NAME), execve's arguments): raw, an ESC starts a terminal
//! escape sequence (ECMA-48: colours, cursor moves, window titles, OSC 52 clipboard writes)
//! and a newline fakes a record. The records hold U+FFFD where the kernel's bytes were not
//! UTF-8 (the decoder's lossy conversion), which is shown too, as `\u{fffd}`.
use std::fmt::Write as _;

/// Escapes what a terminal would act on or hide: C0 and C1 controls and DEL (`\n`, `\t`,
/// `\r`, `\x1b`, `\u{9b}`), invisible and direction-changing characters (bidi overrides,
/// zero-width spaces, line separators: "Trojan Source", CVE-2021-42574), U+FFFD, and the
/// backslash itself (`\\`), so that every escape is unambiguous.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        push_escaped(&mut out, c, is_hidden(c));
    }
    out
}

/// As [`escape`], and also every character a terminal may not draw exactly one column wide
/// (wide CJK, emoji, combining marks): for a fixed-width column, which must never grow. Kept:
/// printable ASCII and the Latin letters of U+00A1..=U+024F.
pub fn escape_narrow(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let narrow = c.is_ascii_graphic() || c == ' ' || ('\u{a1}'..='\u{24f}').contains(&c);
        push_escaped(&mut out, c, is_hidden(c) || !narrow);
    }
    out
}

/// An argument or a path: escaped, and in double quotes when it is empty or holds a space or
/// a quote, so that `""` and `"a b"` stay visible as one argument.
pub fn quote(s: &str) -> String {
    let escaped = escape(s);
    let needs = s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'');
    if !needs {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('"', "\\\""))
}

fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{ad}' | '\u{61c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{fffd}')
}

fn push_escaped(out: &mut String, c: char, hide: bool) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if hide && c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if hide => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}
