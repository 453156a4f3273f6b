//! Turning the measurements into BENCHMARKS.md sections and raw JSON.
//!
//! - [`stats`]: the per-tracer medians the side-by-side tables show;
//! - [`side_markdown`] with [`side_targets`], and [`side_json`]: the side-by-side section
//!   and `raw.json`;
//! - [`soak`]: the soak section and `soak.json`;
//! - [`section`]: replacing one generated section of BENCHMARKS.md;
//! - [`values`]: how losses and counts are written.

mod section;
mod side_baseline;
mod side_json;
mod side_markdown;
mod side_targets;
mod soak;
mod stats;
mod values;

use std::fmt::Write as _;

use serde_json::{json, Value};

pub use section::write_section;
pub use side_json::side_json;
pub use side_markdown::side_markdown;
pub use soak::{soak_json, soak_markdown};
pub use stats::SideBySide;

pub struct Meta {
    pub command: String,
    pub machine: String,
    pub commit: String,
    pub date: String,
    pub total_s: f64,
    pub runs: usize,
    pub scale: f64,
}

impl Meta {
    fn json(&self) -> Value {
        json!({
            "command": self.command,
            "machine": self.machine,
            "commit": self.commit,
            "date": self.date,
            "total_s": self.total_s,
            "runs": self.runs,
            "scale": self.scale,
        })
    }

    fn header(&self, out: &mut String) {
        let _ = writeln!(out, "- Command: `{}`", self.command);
        let _ = writeln!(
            out,
            "- Date: {}; proctrace commit {}; took {:.1} min",
            self.date,
            self.commit,
            self.total_s / 60.0
        );
        let _ = writeln!(out, "- Machine: {}", self.machine);
    }
}
