//! How values are written: losses (text and JSON) and counts with thousands separators.

use serde_json::{json, Value};

use crate::bench::tracers::Lost;

pub fn lost_text(lost: Lost) -> String {
    match lost {
        Lost::Count(n) => n.to_string(),
        Lost::Overflows(n) => format!("{n} overflow notices"),
        Lost::NotReported => "not reported".into(),
    }
}

pub fn lost_json(lost: Lost) -> Value {
    match lost {
        Lost::Count(n) => json!(n),
        Lost::Overflows(n) => json!({ "overflow_notices": n }),
        Lost::NotReported => Value::Null,
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_004), "1,000,004");
    }
}
