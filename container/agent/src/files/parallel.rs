//! A large listing's work spread over the machine's cores: the `stat` of each entry while the directory is still
//! being read, then the JSON of the sorted entries in contiguous parts. Small work stays on the calling thread.

use std::panic::resume_unwind;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};
use std::thread::ScopedJoinHandle;

/// Items in one batch: below this, no thread is started.
const BATCH: usize = 256;

/// Threads a listing may use, the calling one included.
fn threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8)
}

/// Results of a helper thread; a helper that panicked fails the whole call (the blocking task answers an internal
/// error), never drops results.
fn joined<U>(helper: ScopedJoinHandle<'_, U>) -> U {
    helper.join().unwrap_or_else(|panic| resume_unwind(panic))
}

/// Runs `work` over batches of the items `source` yields, as they come: helper threads take batches while this
/// thread goes on reading, then it takes what is left. The first error ends the reading and is returned. Results
/// come in no particular order.
pub fn as_read<T: Send, U: Send, E>(
    mut source: impl Iterator<Item = Result<T, E>>,
    work: impl Fn(Vec<T>) -> U + Sync,
) -> Result<Vec<U>, E> {
    let mut batch = Vec::with_capacity(BATCH);
    while batch.len() < BATCH {
        match source.next() {
            Some(item) => batch.push(item?),
            None => return Ok(vec![work(batch)]),
        }
    }
    let helpers = threads() - 1;
    if helpers == 0 {
        for item in source {
            batch.push(item?);
        }
        return Ok(vec![work(batch)]);
    }
    let (send, receive) = mpsc::channel::<Vec<T>>();
    let (work, receive) = (&work, &Mutex::new(receive));
    // Takes batches until the reading is over and none is left.
    let take = move || {
        let mut done = Vec::new();
        while let Ok(batch) = receive.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            done.push(work(batch));
        }
        done
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (0..helpers).map(|_| scope.spawn(take)).collect();
        let mut failed = None;
        // A send fails only when every taker is gone, which a panic would do: it is raised at the join.
        let _ = send.send(batch);
        let mut batch = Vec::with_capacity(BATCH);
        for item in source {
            match item {
                Ok(item) => batch.push(item),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            if batch.len() == BATCH {
                let _ = send.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        }
        let _ = send.send(batch);
        drop(send);
        let mut results = take();
        for helper in helpers {
            results.extend(joined(helper));
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(results),
        }
    })
}

/// Runs `work` over `items` in contiguous parts, one per thread when there are many, and returns the parts'
/// results in order.
pub fn in_parts<T: Send, U: Send>(items: Vec<T>, work: impl Fn(Vec<T>) -> U + Sync) -> Vec<U> {
    let threads = threads();
    if items.len() < 2 * BATCH || threads < 2 {
        return vec![work(items)];
    }
    let chunk = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(items.by_ref().take(chunk).collect());
    }
    let work = &work;
    std::thread::scope(|scope| {
        let mut parts = parts.into_iter();
        let first = parts.next();
        let others: Vec<_> = parts.map(|part| scope.spawn(move || work(part))).collect();
        // This thread does the first part itself, while the others run.
        let mine = first.map(work);
        mine.into_iter().chain(others.into_iter().map(joined)).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_read_is_worked_on_once() {
        for n in [0, 1, BATCH - 1, BATCH, BATCH + 1, 10 * BATCH + 7] {
            let source = (0..n).map(Ok::<_, ()>);
            let mut seen: Vec<usize> = as_read(source, |batch| batch).unwrap().into_iter().flatten().collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_read_error_ends_the_reading_and_is_returned() {
        for at in [3, 5 * BATCH] {
            let source = (0..10 * BATCH).map(|i| if i == at { Err(i) } else { Ok(i) });
            assert_eq!(as_read(source, |batch| batch.len()), Err(at));
        }
    }

    #[test]
    fn parts_come_back_in_order() {
        for n in [0, 3, 2 * BATCH, 5000] {
            let joined: Vec<usize> = in_parts((0..n).collect(), |part| part).into_iter().flatten().collect();
            assert_eq!(joined, (0..n).collect::<Vec<_>>());
        }
    }
}
