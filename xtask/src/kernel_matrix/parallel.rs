//! The rows of the matrix, several at once: the host row beside the guests, and the guests
//! `--jobs` at a time (one by default). A guest under TCG keeps about one host core busy on average,
//! in bursts: much of a run is its tests waiting on their own timers (processes that live
//! 8 s, 1 s check intervals), and another row's work fills those gaps. Each row still has its
//! own console log; their echo on stderr is interleaved, each line prefixed with its row.

use std::{
    sync::{Mutex, PoisonError},
    thread,
};

use anyhow::Result;

use super::report::Row;
use crate::cmd::note;

/// One row's run.
pub type Job<'a> = Box<dyn FnOnce() -> Result<Row> + Send + 'a>;

/// `first` (the host row) in a thread of its own beside `jobs` (the guests, `at_once` at a
/// time); the rows in that order.
pub fn beside(first: Option<Job<'_>>, jobs: Vec<Job<'_>>, at_once: usize) -> Result<Vec<Row>> {
    thread::scope(|scope| {
        let first = first.map(|job| scope.spawn(job));
        let rest = run_all(jobs, at_once);
        let mut rows = Vec::new();
        if let Some(first) = first {
            rows.push(
                first
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            );
        }
        rows.extend(rest?);
        Ok(rows)
    })
}

/// Runs `jobs`, at most `at_once` at a time, in their order; returns the rows in that order.
/// The first error (a row that could not even be started) is returned after every row has
/// ended.
pub fn run_all(jobs: Vec<Job<'_>>, at_once: usize) -> Result<Vec<Row>> {
    let count = jobs.len();
    let at_once = at_once.clamp(1, count.max(1));
    if at_once > 1 {
        note(format_args!("running {count} rows, {at_once} at a time"));
    }
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let done = Mutex::new(Vec::with_capacity(count));
    let work = || loop {
        // Taken from the front: rows start in the order they were given.
        let next = {
            let mut queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
            (!queue.is_empty()).then(|| queue.remove(0))
        };
        let Some((index, job)) = next else { break };
        let row = job();
        done.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, row));
    };
    thread::scope(|scope| {
        for _ in 0..at_once {
            scope.spawn(work);
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, row)| row).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::kernel_matrix::report::RunLog;

    fn row(kernel: &str) -> Row {
        Row {
            kernel: kernel.to_owned(),
            log: RunLog::default(),
            wall: Duration::ZERO,
            timed_out: false,
            error: None,
            log_path: "-".into(),
        }
    }

    #[test]
    fn rows_come_back_in_order_whatever_ends_first() {
        let jobs: Vec<Job<'_>> = ["a", "b", "c"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                Box::new(move || {
                    // The first row ends last.
                    thread::sleep(Duration::from_millis(30 * (2 - i as u64)));
                    Ok(row(name))
                }) as Job<'_>
            })
            .collect();
        let rows = run_all(jobs, 3).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r.kernel.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(run_all(Vec::new(), 2).unwrap().is_empty());
    }

    #[test]
    fn an_error_is_returned_after_the_rest() {
        let jobs: Vec<Job<'_>> = vec![
            Box::new(|| anyhow::bail!("cannot start")),
            Box::new(|| Ok(row("b"))),
        ];
        assert!(run_all(jobs, 1).is_err());
    }
}
