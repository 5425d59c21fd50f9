//! The parallel executor both modes share: cases run at most `jobs` at a time, and their
//! results come out in list order as soon as every earlier one has (so the report streams in a
//! stable order whatever finishes first).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::notes::ModeNotes;
use super::verdict::lost_case;
use crate::model::Fixture;
use crate::report::CaseResult;
use crate::vocab::Delivery;

/// Most cases the runner runs at the same time (`--jobs` is clamped to it).
pub const MAX_JOBS: usize = 16;

/// Runs `jobs_list` (case, delivery mode) with at most `jobs` at a time and returns the
/// results in list order; each result gets the mode notes and goes to `on_result` as soon as
/// every earlier one has. A job whose task died is reported by [`lost_case`].
pub(crate) async fn run_in_parallel<F, Fut>(
    jobs_list: &[(Arc<Fixture>, Delivery)],
    jobs: usize,
    known_failures: &BTreeMap<String, String>,
    strict: bool,
    notes: &mut ModeNotes,
    run: F,
    on_result: &mut impl FnMut(&CaseResult),
) -> Vec<CaseResult>
where
    F: Fn(Arc<Fixture>, Delivery) -> Fut,
    Fut: std::future::Future<Output = CaseResult> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, CaseResult)>();
    let mut set = tokio::task::JoinSet::new();
    for (i, (fx, d)) in jobs_list.iter().cloned().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        let tx = tx.clone();
        let case = run(fx, d);
        set.spawn(async move {
            let Ok(_permit) = semaphore.acquire_owned().await else { return };
            let _ = tx.send((i, case.await));
        });
    }
    drop(tx);
    let mut results = Vec::new();
    let mut deliver = |mut r: CaseResult, results: &mut Vec<CaseResult>| {
        notes.apply(&mut r);
        on_result(&r);
        results.push(r);
    };
    let mut pending: BTreeMap<usize, CaseResult> = BTreeMap::new();
    let mut next = 0;
    while let Some((i, r)) = rx.recv().await {
        pending.insert(i, r);
        while let Some(r) = pending.remove(&next) {
            deliver(r, &mut results);
            next += 1;
        }
    }
    while set.join_next().await.is_some() {}
    for (_, r) in std::mem::take(&mut pending) {
        deliver(r, &mut results);
    }
    for (fx, d) in jobs_list {
        if !results.iter().any(|r| r.id == fx.id && r.delivery == *d) {
            let r = lost_case(fx, *d, known_failures, strict);
            on_result(&r);
            results.push(r);
        }
    }
    results
}
