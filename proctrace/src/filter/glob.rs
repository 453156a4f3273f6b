//! Shell-style globs for `--comm` and `--exe`: fnmatch(3) without flags, as a shell's `case`
//! matches. `*` is any run of characters (`/` included, so `*/sleep` matches
//! `/usr/bin/sleep`), `?` one character, `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) one
//! character of (or not of) a set, `\` makes the next character literal. Matching is on
//! characters, case-sensitive, and the whole string must match.
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GlobError {
    #[error("an empty pattern matches nothing: give a glob such as 'nginx*'")]
    Empty,
    #[error("{0:?} has a '[' without its ']': close the set, or write '\\[' for a literal '['")]
    UnclosedSet(String),
    #[error("{0:?} ends with a lone '\\': write '\\\\' for a literal backslash")]
    TrailingEscape(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    One,
    /// `*`
    Any,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    /// Whether this single-character token takes `c` (never called for `Any`).
    fn takes(&self, c: char) -> bool {
        match self {
            Token::Literal(l) => *l == c,
            Token::One | Token::Any => true,
            Token::Set { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    tokens: Vec<Token>,
}

impl Glob {
    pub fn parse(text: &str) -> Result<Glob, GlobError> {
        if text.is_empty() {
            return Err(GlobError::Empty);
        }
        let mut chars = text.chars().peekable();
        let mut tokens = Vec::new();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' => Token::Any,
                '?' => Token::One,
                '\\' => Token::Literal(
                    chars
                        .next()
                        .ok_or_else(|| GlobError::TrailingEscape(text.to_owned()))?,
                ),
                '[' => {
                    parse_set(&mut chars).ok_or_else(|| GlobError::UnclosedSet(text.to_owned()))?
                }
                c => Token::Literal(c),
            });
        }
        Ok(Glob {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The fewest bytes a match has (UTF-8): a comm glob longer than the kernel's 15 bytes
    /// can never match.
    pub fn min_bytes(&self) -> usize {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Literal(c) => c.len_utf8(),
                Token::One | Token::Set { .. } => 1,
                Token::Any => 0,
            })
            .sum()
    }

    /// Whether the whole of `s` matches. Backtracks to the latest `*` only: every other token
    /// takes exactly one character, so that is enough (linear in practice, O(n·m) at worst).
    pub fn matches(&self, s: &str) -> bool {
        let text: Vec<char> = s.chars().collect();
        let (mut t, mut p) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.tokens.get(p) {
                Some(Token::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(token) if token.takes(text[t]) => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[p..].iter().all(|t| *t == Token::Any)
    }
}

/// The set after a `[`, up to its `]` (a `]` right after `[` or `[!` is a member); `None`
/// when it is not closed.
fn parse_set(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Token> {
    let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = match chars.next()? {
            ']' if !first => return Some(Token::Set { negated, ranges }),
            '\\' => chars.next()?,
            c => c,
        };
        first = false;
        let range_end = chars.next_if_eq(&'-').map(|_| chars.peek().copied());
        match range_end {
            Some(Some(hi)) if hi != ']' => {
                chars.next();
                ranges.push((c, hi));
            }
            // `[a-]`: the `-` is a member.
            Some(_) => ranges.extend([(c, c), ('-', '-')]),
            None => ranges.push((c, c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, s: &str) -> bool {
        Glob::parse(glob).expect(glob).matches(s)
    }

    #[test]
    fn stars_questions_and_literals() {
        assert!(m("sleep", "sleep"));
        assert!(!m("sleep", "sleeps"));
        assert!(!m("sleep", "slee"));
        assert!(m("sl*", "sleep"));
        assert!(m("*", ""));
        assert!(m("*eep", "sleep"));
        assert!(m("s*e*p", "sleep"));
        assert!(!m("s*x*p", "sleep"));
        assert!(m("sle?p", "sleep"));
        assert!(!m("sle?p", "slep"));
        assert!(m("*/sleep", "/usr/bin/sleep"), "* crosses /");
        assert!(m("/usr/*", "/usr/bin/sleep"));
        assert!(!m("/usr/*", "/bin/sleep"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(m("**a", "a"));
    }

    #[test]
    fn sets_and_escapes() {
        assert!(m("[sb]ash", "bash"));
        assert!(!m("[sb]ash", "dash"));
        assert!(m("[!sb]ash", "dash"));
        assert!(m("[^sb]ash", "dash"));
        assert!(m("worker[0-9]", "worker7"));
        assert!(!m("worker[0-9]", "workerx"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("kworker/[0-9]*", "kworker/3:1"));
        assert!(m("é*", "été"), "characters, not bytes");
    }

    #[test]
    fn bad_patterns_are_refused_with_what_to_do() {
        assert_eq!(Glob::parse(""), Err(GlobError::Empty));
        let unclosed = Glob::parse("a[bc").unwrap_err();
        assert!(unclosed.to_string().contains("'\\['"), "{unclosed}");
        assert!(matches!(
            Glob::parse("ab\\"),
            Err(GlobError::TrailingEscape(_))
        ));
        assert!(matches!(Glob::parse("[a-"), Err(GlobError::UnclosedSet(_))));
    }

    #[test]
    fn the_shortest_match_is_counted() {
        let g = |s: &str| Glob::parse(s).expect(s).min_bytes();
        assert_eq!(g("*"), 0);
        assert_eq!(g("é*"), 2);
        assert_eq!(g("a*b?"), 3);
        assert_eq!(g("[abc]x"), 2);
        assert_eq!(g("\\*"), 1);
    }
}
