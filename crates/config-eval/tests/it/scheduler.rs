//! The work queue: dependency chains, fan-out, failures, priorities; and the
//! seed's polling queue on a short chain.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use config_eval::{Error, PollingWorkQueue, Priority, TaskStatus, WorkQueue};

fn with_workers<T: Send + Sync + 'static>(q: &Arc<WorkQueue<T>>, n: usize, f: impl FnOnce()) {
    std::thread::scope(|s| {
        for _ in 0..n {
            let q = q.clone();
            s.spawn(move || q.run_worker());
        }
        f();
        q.close();
    });
}

#[test]
fn chain_of_1000_tasks_runs_in_order() {
    let q: Arc<WorkQueue<u64>> = Arc::new(WorkQueue::new());
    let mut last = None;
    with_workers(&q, 4, || {
        let mut prev: Option<u64> = None;
        for i in 0..1000u64 {
            let deps: Vec<u64> = prev.into_iter().collect();
            let id = q
                .submit(Priority::Normal, &deps, move |inputs| {
                    Ok(inputs.first().map_or(0, |v| **v) + i)
                })
                .unwrap();
            prev = Some(id);
        }
        last = prev;
    });
    let v = q.wait(last.unwrap()).unwrap();
    assert_eq!(*v, (0..1000).sum::<u64>());
    assert_eq!(q.status(last.unwrap()), Some(TaskStatus::Completed));
}

#[test]
fn wide_fan_out_and_fan_in() {
    let q: Arc<WorkQueue<u64>> = Arc::new(WorkQueue::new());
    let ran = Arc::new(AtomicUsize::new(0));
    let mut sink = 0;
    with_workers(&q, 3, || {
        let root = q.submit(Priority::High, &[], |_| Ok(1)).unwrap();
        let leaves: Vec<u64> = (0..2000)
            .map(|i| {
                let ran = ran.clone();
                q.submit(Priority::Normal, &[root], move |inp| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    Ok(*inp[0] + i)
                })
                .unwrap()
            })
            .collect();
        sink = q
            .submit(Priority::Low, &leaves, |inp| {
                Ok(inp.iter().map(|v| **v).sum())
            })
            .unwrap();
    });
    assert_eq!(ran.load(Ordering::Relaxed), 2000);
    assert_eq!(
        *q.wait(sink).unwrap(),
        (0..2000u64).map(|i| 1 + i).sum::<u64>()
    );
}

#[test]
fn failure_cascades_to_dependents_without_running_them() {
    let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
    let ran = Arc::new(AtomicUsize::new(0));
    let (mut bad, mut child, mut grandchild, mut ok) = (0, 0, 0, 0);
    with_workers(&q, 2, || {
        bad = q
            .submit(Priority::Normal, &[], |_| Err(Error::Config("boom".into())))
            .unwrap();
        let r = ran.clone();
        child = q
            .submit(Priority::Normal, &[bad], move |_| {
                r.fetch_add(1, Ordering::Relaxed);
                Ok(1)
            })
            .unwrap();
        grandchild = q.submit(Priority::Normal, &[child], |_| Ok(2)).unwrap();
        ok = q.submit(Priority::Normal, &[], |_| Ok(3)).unwrap();
    });
    assert_eq!(q.wait(bad), Err(Error::Config("boom".into())));
    assert!(matches!(q.wait(child), Err(Error::TaskFailed { .. })));
    assert!(matches!(q.wait(grandchild), Err(Error::TaskFailed { .. })));
    assert_eq!(*q.wait(ok).unwrap(), 3);
    assert_eq!(ran.load(Ordering::Relaxed), 0);
    assert_eq!(q.status(grandchild), Some(TaskStatus::Failed));
}

#[test]
fn a_panicking_task_fails_cleanly() {
    let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
    let mut id = 0;
    with_workers(&q, 1, || {
        id = q
            .submit(Priority::Normal, &[], |_| panic!("task bug"))
            .unwrap();
    });
    assert!(matches!(q.wait(id), Err(Error::TaskFailed { .. })));
}

#[test]
fn unknown_dependency_and_closed_queue_are_errors() {
    let q: WorkQueue<u32> = WorkQueue::new();
    assert_eq!(
        q.submit(Priority::Normal, &[42], |_| Ok(1)).err(),
        Some(Error::UnknownDependency { dependency: 42 })
    );
    q.close();
    assert_eq!(
        q.submit(Priority::Normal, &[], |_| Ok(1)).err(),
        Some(Error::QueueClosed)
    );
    assert!(q.wait(7).is_err());
}

#[test]
fn higher_priority_ready_tasks_run_first() {
    let q: Arc<WorkQueue<()>> = Arc::new(WorkQueue::new());
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    // Submit everything before any worker starts, so the order is the queue's choice.
    for (i, p) in [
        (0, Priority::Low),
        (1, Priority::High),
        (2, Priority::Normal),
        (3, Priority::High),
    ] {
        let order = order.clone();
        q.submit(p, &[], move |_| {
            order.lock().unwrap().push(i);
            Ok(())
        })
        .unwrap();
    }
    with_workers(&q, 1, || {});
    assert_eq!(*order.lock().unwrap(), vec![1, 3, 2, 0]);
}

#[test]
fn a_readied_dependent_runs_next_unless_something_more_urgent_waits() {
    let q: Arc<WorkQueue<()>> = Arc::new(WorkQueue::new());
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = |i: u32| {
        let order = order.clone();
        move |_: &[Arc<()>]| {
            order.lock().unwrap().push(i);
            Ok(())
        }
    };
    // One worker, everything submitted first. `a` runs; its dependent `c` runs next on
    // the same worker, before the older but unrelated `d`.
    let a = q.submit(Priority::Normal, &[], log(0)).unwrap();
    q.submit(Priority::Normal, &[], log(1)).unwrap();
    q.submit(Priority::Normal, &[a], log(2)).unwrap();
    with_workers(&q, 1, || {});
    assert_eq!(*order.lock().unwrap(), vec![0, 2, 1]);

    // A more urgent task submitted while `a` runs goes before `a`'s dependent.
    let q: Arc<WorkQueue<()>> = Arc::new(WorkQueue::new());
    order.lock().unwrap().clear();
    let (q2, urgent) = (q.clone(), log(3));
    let first = log(0);
    let a = q
        .submit(Priority::Normal, &[], move |inp| {
            q2.submit(Priority::High, &[], urgent)?;
            first(inp)
        })
        .unwrap();
    let c = q.submit(Priority::Normal, &[a], log(2)).unwrap();
    // The queue stays open until `c` is done, so `a` can still submit.
    with_workers(&q, 1, || {
        q.wait(c).unwrap();
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 3, 2]);
}

#[test]
fn waiting_parks_until_completion() {
    let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
    let gate = Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let id = q
        .submit(Priority::Normal, &[], move |_| {
            g.wait();
            Ok(5)
        })
        .unwrap();
    std::thread::scope(|s| {
        let q2 = q.clone();
        s.spawn(move || q2.run_worker());
        let waiter = s.spawn(|| q.wait(id));
        std::thread::sleep(Duration::from_millis(20));
        // The task cannot finish before the gate opens, whatever the scheduling.
        assert!(matches!(
            q.status(id),
            Some(TaskStatus::Pending | TaskStatus::Running)
        ));
        gate.wait();
        assert_eq!(*waiter.join().unwrap().unwrap(), 5);
        q.close();
    });
}

#[test]
fn polling_queue_gives_the_same_results() {
    let q: Arc<PollingWorkQueue<u64>> = Arc::new(PollingWorkQueue::new());
    let mut last = 0;
    std::thread::scope(|s| {
        for _ in 0..2 {
            let q = q.clone();
            s.spawn(move || q.run_worker());
        }
        let mut prev: Option<u64> = None;
        for i in 0..20u64 {
            let deps: Vec<u64> = prev.into_iter().collect();
            prev = Some(
                q.submit(Priority::Normal, &deps, move |inp| {
                    Ok(inp.first().map_or(0, |v| **v) + i)
                })
                .unwrap(),
            );
        }
        last = prev.unwrap();
        assert_eq!(*q.wait(last).unwrap(), (0..20).sum::<u64>());
        q.close();
    });
    assert_eq!(q.status(last), Some(TaskStatus::Completed));
}
