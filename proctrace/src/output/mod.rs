//! Output: the record types (the JSON contract), time formatting, and the writers.
pub mod args;
pub mod diagnosis;
pub mod format;
pub mod queue;
pub mod record;
pub mod sink;
pub mod stack_str;
pub mod stdout;
pub mod text;
pub mod timefmt;
pub mod writer;
