//! Pure CPU work over independent items on every core, with plain scoped threads: parsing a
//! large project's files and comparing its objects with their remote state are most of a
//! plan's time. No I/O happens here; callers pass what each item needs.

/// `work` applied to every item, results in the items' order. Below `sequential_below`
/// items, or on one core, it runs on the calling thread: starting threads would cost more.
/// A panic in `work` is passed on to the caller.
pub(crate) fn in_order<T: Sync, R: Send>(
    items: &[T],
    sequential_below: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if workers <= 1 || items.len() < sequential_below.max(2) {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let work = &work;
        let handles: Vec<_> =
            items.chunks(chunk).map(|share| scope.spawn(move || share.iter().map(work).collect::<Vec<R>>())).collect();
        handles
            .into_iter()
            .flat_map(|handle| match handle.join() {
                Ok(results) => results,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        let items: Vec<usize> = (0..1000).collect();
        let doubled = super::in_order(&items, 10, |item| item * 2);
        assert_eq!(doubled, items.iter().map(|item| item * 2).collect::<Vec<_>>());
        assert_eq!(super::in_order(&items[..3], 10, |item| item + 1), vec![1, 2, 3]);
    }
}
