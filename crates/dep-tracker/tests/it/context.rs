//! The seed's `Context` API: edge direction, kinds, threads.

use std::sync::Arc;

use dep_tracker::{Context, DefaultLog, DependencyLog, StepKind};

use crate::for_each_log;

fn edges_point_from_the_step_that_needs_to_the_step_needed<L: DependencyLog>() {
    let root = Context::root_in(Arc::new(L::default()));
    let exec = root.in_exec();
    let resolve = exec.in_resolve();
    let parse = resolve.in_parse();
    let read = parse.in_read();
    let expected = [
        (root.step(), exec.step(), StepKind::Exec),
        (exec.step(), resolve.step(), StepKind::Resolve),
        (resolve.step(), parse.step(), StepKind::Parse),
        (parse.step(), read.step(), StepKind::Read),
    ];
    assert_eq!(read.kind(), StepKind::Read);
    assert_eq!(root.kind(), StepKind::Root);
    drop((read, parse, resolve, exec));
    let mut deps: Vec<_> = root
        .dependencies()
        .iter()
        .map(|d| (d.from, d.to, d.kind))
        .collect();
    deps.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(deps, expected, "log {}", L::NAME);
}

#[test]
fn every_log_records_needs_edges_in_one_direction() {
    for_each_log!(edges_point_from_the_step_that_needs_to_the_step_needed);
}

fn a_child_moved_to_another_thread_keeps_its_parent<L: DependencyLog>() {
    let root = Context::root_in(Arc::new(L::default()));
    let parent = root.in_exec();
    let parent_id = parent.step();
    let (child_id, grandchild_ids) = std::thread::scope(|s| {
        let child = parent.in_resolve();
        let child_id = child.step();
        let handle = s.spawn(move || {
            // The child runs here and starts its own children from two more threads.
            let ids = std::thread::scope(|inner| {
                let a = inner.spawn(|| child.in_parse().step());
                let b = inner.spawn(|| child.in_read().step());
                [a.join().unwrap(), b.join().unwrap()]
            });
            drop(child);
            ids
        });
        (child_id, handle.join().unwrap())
    });
    drop(parent);
    let deps = root.dependencies();
    assert!(
        deps.iter().any(|d| d.from == parent_id && d.to == child_id),
        "log {}",
        L::NAME
    );
    for id in grandchild_ids {
        assert!(
            deps.iter().any(|d| d.from == child_id && d.to == id),
            "log {}",
            L::NAME
        );
    }
    assert!(!deps
        .iter()
        .any(|d| d.from == root.step() && d.to == child_id));
    assert_eq!(deps.len(), 4);
}

#[test]
fn children_spawned_onto_other_threads_keep_their_real_parent() {
    for_each_log!(a_child_moved_to_another_thread_keeps_its_parent);
}

#[test]
fn rayon_children_of_one_step_are_all_recorded_against_it() {
    use rayon::prelude::*;
    let root: Context<DefaultLog> = Context::root();
    let ids: Vec<_> = (0..200)
        .into_par_iter()
        .map(|_| root.in_read().step())
        .collect();
    let deps = root.dependencies();
    assert_eq!(deps.len(), 200);
    for id in ids {
        assert!(deps.iter().any(|d| d.from == root.step() && d.to == id));
    }
}

#[test]
fn a_step_sees_its_own_edges_before_it_finishes() {
    let root = Context::root_in(Arc::new(dep_tracker::BufferedLog::default()));
    let exec = root.in_exec();
    let _read = exec.in_read();
    // The root's edge is published by `dependencies`; exec's edge is still buffered.
    assert_eq!(root.dependencies().len(), 1);
    assert_eq!(exec.dependencies().len(), 2);
}
