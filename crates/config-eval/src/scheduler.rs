//! A dependency-aware work queue whose waits park, and the seed's sleep-polling queue
//! kept as the measured baseline.
//!
//! [`WorkQueue`]: a task becomes ready when its last dependency completes; ready
//! tasks are taken highest priority first (then oldest first, except for the next-task
//! slot below); idle workers and
//! callers of [`WorkQueue::wait`] sleep on condition variables and are woken only by
//! an event that concerns them. One mutex guards the whole state: tasks here are
//! whole-module type checks (milliseconds), so the lock is held for microseconds per
//! task and is never contended enough to matter.
//!
//! A worker that finishes a task keeps the lock and runs a dependent made ready by
//! that completion itself, next, with no hand-off (the "next task" slot of tokio and
//! rayon, here without bypassing priorities: if a strictly more urgent task is already
//! waiting, that one runs first and the dependent waits in the heap). A sleeping
//! worker is woken only for work the waking thread will not take itself, and a waiter
//! only when a task it waits for has finished. Nothing spins.
//!
//! [`PollingWorkQueue`]: the seed's design, where `get_result` loops over a `DashMap`
//! with a 1 ms sleep and workers sleep 1 ms when nothing is queued. It exists so the
//! benchmark can show what the parking design buys.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::error::Error;
use crate::sync::{Arc, AtomicBool, AtomicU64, Condvar, DashMap, Mutex, Ordering};

/// Identifies a task of one queue.
pub type TaskId = u64;

/// How urgently a ready task should run; higher runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Background work.
    Low,
    /// The default.
    Normal,
    /// Work others wait for.
    High,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Submitted; waiting for dependencies or a worker.
    Pending,
    /// A worker is running it.
    Running,
    /// Finished with a value.
    Completed,
    /// Failed, or one of its dependencies failed.
    Failed,
}

type Work<T> = Box<dyn FnOnce(&[Arc<T>]) -> Result<T, Error> + Send>;

struct Entry<T> {
    status: TaskStatus,
    priority: Priority,
    /// The dependencies, in the order their results are passed; taken (emptied) when
    /// the task starts, as they are only needed to gather its inputs.
    deps: Vec<TaskId>,
    /// Invariant: the number of `deps` not yet `Completed`; the task is in `ready`, or
    /// in the next-task slot of the worker whose completion readied it, exactly when
    /// this is 0 and the status is `Pending`.
    waiting_on: usize,
    dependents: Vec<TaskId>,
    /// Callers of [`WorkQueue::wait`] parked on this task; its completion wakes the
    /// waiters' condition variable only when this is non-zero.
    waiters: usize,
    work: Option<Work<T>>,
    result: Option<Result<Arc<T>, Error>>,
}

struct State<T> {
    tasks: HashMap<TaskId, Entry<T>>,
    ready: BinaryHeap<(Priority, Reverse<TaskId>)>,
    next_id: TaskId,
    /// Tasks submitted and not yet `Completed` or `Failed`.
    unfinished: usize,
    /// Workers parked on `work_ready`. A ready task needs a wake-up only when nobody
    /// awake will take it: awake workers look at `ready` before they park.
    sleeping: usize,
    closed: bool,
}

/// A dependency-aware task queue; see the module documentation.
pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    /// Signalled when a task becomes ready or the queue is closed and drained.
    work_ready: Condvar,
    /// Signalled when a task finishes.
    task_done: Condvar,
}

impl<T> std::fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.lock();
        f.debug_struct("WorkQueue")
            .field("tasks", &s.tasks.len())
            .field("unfinished", &s.unfinished)
            .field("closed", &s.closed)
            .finish()
    }
}

impl<T: Send + Sync + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync + 'static> WorkQueue<T> {
    /// An empty, open queue. It owns no threads: run [`WorkQueue::run_worker`] on as
    /// many threads as should work.
    pub fn new() -> Self {
        WorkQueue {
            state: Mutex::new(State {
                tasks: HashMap::new(),
                ready: BinaryHeap::new(),
                next_id: 0,
                unfinished: 0,
                sleeping: 0,
                closed: false,
            }),
            work_ready: Condvar::new(),
            task_done: Condvar::new(),
        }
    }

    /// Adds a task that runs once every task in `deps` has completed, receiving their
    /// results in the order of `deps`. If a dependency has failed (or later fails),
    /// the task fails without running.
    pub fn submit(
        &self,
        priority: Priority,
        deps: &[TaskId],
        work: impl FnOnce(&[Arc<T>]) -> Result<T, Error> + Send + 'static,
    ) -> Result<TaskId, Error> {
        // Allocate before locking: the submitter holds the lock as briefly as it can,
        // since a finishing worker needs it to pick its next task.
        let work: Work<T> = Box::new(work);
        let deps_owned = deps.to_vec();
        let mut s = self.state.lock();
        if s.closed {
            return Err(Error::QueueClosed);
        }
        if let Some(&missing) = deps.iter().find(|d| !s.tasks.contains_key(d)) {
            return Err(Error::UnknownDependency {
                dependency: missing,
            });
        }
        let id = s.next_id;
        s.next_id += 1;
        let mut waiting_on = 0;
        let mut failed_dep = None;
        for d in deps {
            if let Some(e) = s.tasks.get_mut(d) {
                match e.status {
                    TaskStatus::Completed => {}
                    TaskStatus::Failed => failed_dep = Some(*d),
                    _ => {
                        waiting_on += 1;
                        e.dependents.push(id);
                    }
                }
            }
        }
        let mut entry = Entry {
            status: TaskStatus::Pending,
            priority,
            deps: deps_owned,
            waiting_on,
            dependents: Vec::new(),
            waiters: 0,
            work: None,
            result: None,
        };
        if let Some(d) = failed_dep {
            entry.status = TaskStatus::Failed;
            entry.result = Some(Err(Error::TaskFailed {
                task: id,
                message: format!("dependency {d} failed"),
            }));
            s.tasks.insert(id, entry);
            drop(s);
            // The work never runs; its captures are dropped outside the lock.
            drop(work);
            return Ok(id);
        }
        entry.work = Some(work);
        s.tasks.insert(id, entry);
        s.unfinished += 1;
        if waiting_on == 0 {
            s.ready.push((priority, Reverse(id)));
            if s.sleeping > 0 {
                self.work_ready.notify_one();
            }
        }
        Ok(id)
    }

    /// The status of a task, `None` if the id is unknown.
    pub fn status(&self, id: TaskId) -> Option<TaskStatus> {
        self.state.lock().tasks.get(&id).map(|e| e.status)
    }

    /// Blocks (parked, not polling) until the task has finished and returns its result.
    pub fn wait(&self, id: TaskId) -> Result<Arc<T>, Error> {
        let mut s = self.state.lock();
        loop {
            match s.tasks.get_mut(&id) {
                None => return Err(Error::UnknownDependency { dependency: id }),
                Some(e) => {
                    if let Some(r) = &e.result {
                        return r.clone();
                    }
                    e.waiters += 1;
                }
            }
            self.task_done.wait(&mut s);
            if let Some(e) = s.tasks.get_mut(&id) {
                e.waiters -= 1;
            }
        }
    }

    /// Stops accepting tasks; workers return once every submitted task has finished.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        self.work_ready.notify_all();
        drop(s);
    }

    /// Runs ready tasks on the calling thread until the queue is closed and every task
    /// has finished. Parks while nothing is ready.
    pub fn run_worker(&self) {
        let mut s = self.state.lock();
        // The "next task" slot: a dependent that this worker's last completion made
        // ready, to run here without passing through the heap or another thread.
        let mut next: Option<TaskId> = None;
        loop {
            let id = match next.take() {
                Some(id) => id,
                None => match s.ready.pop() {
                    Some((_, Reverse(id))) => id,
                    None => {
                        if s.closed && s.unfinished == 0 {
                            return;
                        }
                        s.sleeping += 1;
                        self.work_ready.wait(&mut s);
                        s.sleeping -= 1;
                        continue;
                    }
                },
            };
            // This thread takes one task; if more are ready and a worker sleeps, pass
            // the rest on. The woken worker does the same, so a fan-out wakes as many
            // workers as it has tasks, one hop each, and a chain wakes nobody.
            if !s.ready.is_empty() && s.sleeping > 0 {
                self.work_ready.notify_one();
            }
            let Some(entry) = s.tasks.get_mut(&id) else {
                continue;
            };
            entry.status = TaskStatus::Running;
            let work = entry.work.take();
            // The dependency list is only needed to gather the inputs.
            let deps = std::mem::take(&mut entry.deps);
            let inputs: Vec<Arc<T>> = deps
                .iter()
                .filter_map(|d| match s.tasks.get(d).and_then(|e| e.result.as_ref()) {
                    Some(Ok(v)) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            drop(s);
            let outcome = match work {
                Some(w) => match catch_unwind(AssertUnwindSafe(|| w(&inputs))) {
                    Ok(r) => r.map(Arc::new),
                    Err(_) => Err(Error::TaskFailed {
                        task: id,
                        message: "the task panicked".into(),
                    }),
                },
                None => Err(Error::TaskFailed {
                    task: id,
                    message: "the task had no work".into(),
                }),
            };
            drop(inputs);
            s = self.state.lock();
            // With the lock still held, the loop goes straight on to the dependent
            // this completion made ready (if any), without waking anyone.
            next = self.finish(&mut s, id, outcome);
        }
    }

    /// Records a task's outcome, makes its dependents ready (or fails them), and wakes
    /// the waiters of every task that finished here. It wakes no worker for the
    /// dependents: it returns the most urgent one for the calling worker to run next,
    /// unless a more urgent task is already waiting in the heap, and the worker passes
    /// any others on (see [`WorkQueue::run_worker`]).
    fn finish(
        &self,
        s: &mut State<T>,
        id: TaskId,
        outcome: Result<Arc<T>, Error>,
    ) -> Option<TaskId> {
        let mut next: Option<(Priority, Reverse<TaskId>)> = None;
        let mut to_fail = Vec::new();
        let ok = outcome.is_ok();
        let mut wake_waiters = false;
        let dependents = match s.tasks.get_mut(&id) {
            Some(e) => {
                e.status = if ok {
                    TaskStatus::Completed
                } else {
                    TaskStatus::Failed
                };
                e.result = Some(outcome);
                wake_waiters |= e.waiters > 0;
                std::mem::take(&mut e.dependents)
            }
            None => Vec::new(),
        };
        s.unfinished = s.unfinished.saturating_sub(1);
        for d in dependents {
            if ok {
                if let Some(e) = s.tasks.get_mut(&d) {
                    e.waiting_on -= 1;
                    if e.waiting_on == 0 && e.status == TaskStatus::Pending {
                        // Keep the most urgent (then oldest) new dependent for the
                        // slot; the others go to the heap.
                        let candidate = (e.priority, Reverse(d));
                        match next {
                            Some(kept) if kept >= candidate => s.ready.push(candidate),
                            Some(kept) => {
                                s.ready.push(kept);
                                next = Some(candidate);
                            }
                            None => next = Some(candidate),
                        }
                    }
                }
            } else {
                to_fail.push((d, id));
            }
        }
        // Failure cascades to every transitive dependent without running it.
        while let Some((t, because)) = to_fail.pop() {
            let Some(e) = s.tasks.get_mut(&t) else {
                continue;
            };
            if e.status != TaskStatus::Pending {
                continue;
            }
            e.status = TaskStatus::Failed;
            e.work = None;
            e.result = Some(Err(Error::TaskFailed {
                task: t,
                message: format!("dependency {because} failed"),
            }));
            wake_waiters |= e.waiters > 0;
            for d in std::mem::take(&mut e.dependents) {
                to_fail.push((d, t));
            }
            s.unfinished = s.unfinished.saturating_sub(1);
        }
        if s.unfinished == 0 && s.closed && s.sleeping > 0 {
            // Every worker must see that the queue is drained and return.
            self.work_ready.notify_all();
        }
        if wake_waiters {
            self.task_done.notify_all();
        }
        // Priorities hold across the slot: a task already waiting that is strictly
        // more urgent runs first, and the dependent waits its turn in the heap.
        match (next, s.ready.peek()) {
            (Some(kept), Some(&(waiting, _))) if waiting > kept.0 => {
                s.ready.push(kept);
                None
            }
            (kept, _) => kept.map(|(_, Reverse(t))| t),
        }
    }
}

/// The seed's queue: no dependency tracking in the scheduler; a task waits for its
/// dependencies inside its worker by polling, and every wait sleeps 1 ms per look.
pub struct PollingWorkQueue<T> {
    tasks: DashMap<TaskId, PollingSlot<T>>,
    queue: Mutex<VecDeque<TaskId>>,
    next_id: AtomicU64,
    closed: AtomicBool,
}

struct PollingSlot<T> {
    status: TaskStatus,
    deps: Vec<TaskId>,
    /// Behind a mutex only so the slot is `Sync` (the map is shared); taken once.
    work: Mutex<Option<Work<T>>>,
    result: Option<Result<Arc<T>, Error>>,
}

impl<T> std::fmt::Debug for PollingWorkQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollingWorkQueue")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl<T: Send + Sync + 'static> Default for PollingWorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// How long the seed's loops sleep between looks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(1);

impl<T: Send + Sync + 'static> PollingWorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        PollingWorkQueue {
            tasks: DashMap::new(),
            queue: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Adds a task (the priority is ignored, as in the seed's FIFO).
    pub fn submit(
        &self,
        _priority: Priority,
        deps: &[TaskId],
        work: impl FnOnce(&[Arc<T>]) -> Result<T, Error> + Send + 'static,
    ) -> Result<TaskId, Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::QueueClosed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.tasks.insert(
            id,
            PollingSlot {
                status: TaskStatus::Pending,
                deps: deps.to_vec(),
                work: Mutex::new(Some(Box::new(work))),
                result: None,
            },
        );
        self.queue.lock().push_back(id);
        Ok(id)
    }

    /// The status of a task.
    pub fn status(&self, id: TaskId) -> Option<TaskStatus> {
        self.tasks.get(&id).map(|s| s.status)
    }

    /// The seed's `get_result`: look, and if not finished sleep 1 ms and look again.
    pub fn wait(&self, id: TaskId) -> Result<Arc<T>, Error> {
        loop {
            if let Some(slot) = self.tasks.get(&id) {
                if let Some(r) = &slot.result {
                    return r.clone();
                }
            } else {
                return Err(Error::UnknownDependency { dependency: id });
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Stops accepting tasks; workers return once the queue is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Takes tasks in submission order; sleeps 1 ms whenever the queue is empty.
    pub fn run_worker(&self) {
        loop {
            let next = self.queue.lock().pop_front();
            let Some(id) = next else {
                if self.closed.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(POLL_INTERVAL);
                continue;
            };
            let (work, deps) = match self.tasks.get_mut(&id) {
                Some(mut slot) => {
                    slot.status = TaskStatus::Running;
                    let work = slot.work.lock().take();
                    (work, slot.deps.clone())
                }
                None => continue,
            };
            let mut inputs = Vec::with_capacity(deps.len());
            let mut failed = None;
            for d in deps {
                match self.wait(d) {
                    Ok(v) => inputs.push(v),
                    Err(_) => failed = Some(d),
                }
            }
            let outcome = match (failed, work) {
                (Some(d), _) => Err(Error::TaskFailed {
                    task: id,
                    message: format!("dependency {d} failed"),
                }),
                (None, Some(w)) => match catch_unwind(AssertUnwindSafe(|| w(&inputs))) {
                    Ok(r) => r.map(Arc::new),
                    Err(_) => Err(Error::TaskFailed {
                        task: id,
                        message: "the task panicked".into(),
                    }),
                },
                (None, None) => Err(Error::TaskFailed {
                    task: id,
                    message: "the task had no work".into(),
                }),
            };
            if let Some(mut slot) = self.tasks.get_mut(&id) {
                slot.status = if outcome.is_ok() {
                    TaskStatus::Completed
                } else {
                    TaskStatus::Failed
                };
                slot.result = Some(outcome);
            }
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    fn spawn_worker(q: &Arc<WorkQueue<u32>>) -> loom::thread::JoinHandle<()> {
        let q = q.clone();
        loom::thread::spawn(move || q.run_worker())
    }

    /// Two workers and a waiter explode the state space; bounding preemptions keeps
    /// the model to seconds while still covering every wake-up ordering with up to three
    /// forced switches.
    fn bounded() -> loom::model::Builder {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b
    }

    #[test]
    fn loom_dependent_task_runs_after_its_dependency_and_wait_wakes() {
        bounded().check(|| {
            let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
            let w1 = spawn_worker(&q);
            let w2 = spawn_worker(&q);
            let a = q.submit(Priority::Normal, &[], |_| Ok(1)).unwrap();
            let b = q
                .submit(Priority::High, &[a], |inp| Ok(*inp[0] + 1))
                .unwrap();
            assert_eq!(*q.wait(b).unwrap(), 2);
            q.close();
            w1.join().unwrap();
            w2.join().unwrap();
            assert_eq!(q.status(a), Some(TaskStatus::Completed));
        });
    }

    /// Two dependents made ready by one completion: the finishing worker takes one and
    /// must pass the other on (or take it after), so both finish whichever worker
    /// sleeps when.
    #[test]
    fn loom_fan_out_passes_extra_ready_work_to_a_sleeping_worker() {
        bounded().check(|| {
            let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
            let w1 = spawn_worker(&q);
            let w2 = spawn_worker(&q);
            let a = q.submit(Priority::Normal, &[], |_| Ok(1)).unwrap();
            let b = q
                .submit(Priority::Normal, &[a], |inp| Ok(*inp[0] + 1))
                .unwrap();
            let c = q
                .submit(Priority::Normal, &[a], |inp| Ok(*inp[0] + 2))
                .unwrap();
            assert_eq!(*q.wait(c).unwrap(), 3);
            assert_eq!(*q.wait(b).unwrap(), 2);
            q.close();
            w1.join().unwrap();
            w2.join().unwrap();
        });
    }

    #[test]
    fn loom_failure_cascades_and_workers_exit_after_close() {
        bounded().check(|| {
            let q: Arc<WorkQueue<u32>> = Arc::new(WorkQueue::new());
            let w = spawn_worker(&q);
            let a = q
                .submit(Priority::Normal, &[], |_| Err(Error::Config("x".into())))
                .unwrap();
            let b = q.submit(Priority::Normal, &[a], |_| Ok(1)).unwrap();
            q.close();
            w.join().unwrap();
            assert!(q.wait(a).is_err());
            assert!(matches!(q.wait(b), Err(Error::TaskFailed { .. })));
        });
    }
}
