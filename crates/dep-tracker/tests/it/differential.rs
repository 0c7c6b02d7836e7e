//! The engine against an independent from-scratch evaluator: random pipelines whose
//! reads depend on inputs (so edits make and break cycles), random edits, injected
//! panics; after every edit every key is compared, at 1 thread and with several threads
//! asking at once. The same check runs longer in `cargo xtask stress --crate
//! dep-tracker`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};

use dep_tracker::{Engine, Error};
use proptest::prelude::*;

/// Nodes are computed; `Prog(i)` says what node `i` reads, `Val(j)` are plain inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Node(u8),
    Prog(u8),
    Val(u8),
}

/// What node `node` does given its program word `prog`: the keys it reads in order,
/// whether it panics after reading them, and how it folds their values.
fn plan(node: u8, prog: i64, nodes: u8, vals: u8) -> (Vec<Key>, bool, bool) {
    let p = prog as u64;
    let reads = (p % 4) as usize;
    let keys = (0..reads)
        .map(|j| {
            let code = (p >> (3 + 7 * j)) & 127;
            if code & 1 == 1 {
                Key::Val(((code >> 1) % u64::from(vals)) as u8)
            } else {
                Key::Node(((code >> 1) % u64::from(nodes)) as u8)
            }
        })
        .collect();
    let panics = p % 23 == 7 && node.is_multiple_of(2);
    let lossy = (p >> 2) & 1 == 1;
    (keys, panics, lossy)
}

fn fold(values: impl IntoIterator<Item = i64>, node: u8, lossy: bool) -> i64 {
    let sum = values.into_iter().fold(i64::from(node), |acc, v| {
        acc.wrapping_mul(31).wrapping_add(v)
    });
    if lossy {
        sum.rem_euclid(3)
    } else {
        sum.rem_euclid(1_000)
    }
}

fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let injected = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|s| s.starts_with("injected"));
            if !injected {
                default(info);
            }
        }));
    });
}

/// Counts step runs per (edit number, key), to check single flight.
type Runs = Arc<Mutex<HashMap<(u64, Key), u32>>>;

fn engine(nodes: u8, vals: u8, exact: bool, epoch: Arc<AtomicU64>, runs: Runs) -> Engine<Key, i64> {
    Engine::new(move |key, step| {
        let Key::Node(n) = *key else {
            return Err(step.fail("inputs are set, not computed"));
        };
        *runs
            .lock()
            .unwrap()
            .entry((epoch.load(Ordering::SeqCst), *key))
            .or_insert(0) += 1;
        let prog = step.get(&Key::Prog(n))?;
        let (reads, panics, lossy) = plan(n, prog, nodes, vals);
        let mut values = Vec::new();
        if !exact && reads.len() > 1 && prog % 2 == 0 {
            for v in step.get_all(&reads) {
                values.push(v?);
            }
        } else {
            for k in &reads {
                values.push(step.get(k)?);
            }
        }
        if panics {
            panic!("injected in {n}");
        }
        Ok(fold(values, n, lossy))
    })
}

/// The from-scratch evaluator, written from the documented semantics: depth-first,
/// a read of a key being evaluated closes a cycle whose members all report it, named
/// from the member with the smallest `Debug` form.
struct Scratch<'a> {
    inputs: &'a HashMap<Key, i64>,
    exact: bool,
    nodes: u8,
    vals: u8,
    done: HashMap<Key, Result<i64, Error>>,
    stack: Vec<Key>,
    members: HashMap<Key, Arc<[String]>>,
}

impl Scratch<'_> {
    fn eval(&mut self, key: Key) -> Result<i64, Error> {
        if let Some(v) = self.inputs.get(&key) {
            return Ok(*v);
        }
        if let Some(v) = self.done.get(&key) {
            return v.clone();
        }
        let Key::Node(n) = key else {
            return Err(Error::StepFailed {
                step: format!("{key:?}"),
                message: "inputs are set, not computed".into(),
            });
        };
        if let Some(pos) = self.stack.iter().position(|k| *k == key) {
            let names: Vec<String> = self.stack[pos..].iter().map(|k| format!("{k:?}")).collect();
            let start = (0..names.len()).min_by_key(|&i| &names[i]).unwrap();
            let mut cycle: Vec<String> = names[start..]
                .iter()
                .chain(&names[..start])
                .cloned()
                .collect();
            cycle.push(cycle[0].clone());
            let cycle: Arc<[String]> = cycle.into();
            for k in &self.stack[pos..] {
                self.members.entry(*k).or_insert_with(|| Arc::clone(&cycle));
            }
            return Err(Error::Cycle { cycle });
        }
        self.stack.push(key);
        let result = self.run(n, key);
        self.stack.pop();
        let result = match self.members.get(&key) {
            Some(cycle) => Err(Error::Cycle {
                cycle: Arc::clone(cycle),
            }),
            None => result,
        };
        self.done.insert(key, result.clone());
        result
    }

    fn run(&mut self, n: u8, key: Key) -> Result<i64, Error> {
        let prog = self.eval(Key::Prog(n))?;
        let (reads, panics, lossy) = plan(n, prog, self.nodes, self.vals);
        let mut values = Vec::new();
        if !self.exact && reads.len() > 1 && prog % 2 == 0 {
            // `get_all` reads every key, then the step takes the first error.
            let all: Vec<_> = reads.iter().map(|k| self.eval(*k)).collect();
            for v in all {
                values.push(v?);
            }
        } else {
            for k in &reads {
                values.push(self.eval(*k)?);
            }
        }
        if panics {
            return Err(Error::StepPanicked {
                step: format!("{key:?}"),
                message: format!("injected in {n}"),
            });
        }
        Ok(fold(values, n, lossy))
    }
}

fn scratch(
    inputs: &HashMap<Key, i64>,
    nodes: u8,
    vals: u8,
    exact: bool,
    order: &[Key],
) -> HashMap<Key, Result<i64, Error>> {
    let mut s = Scratch {
        inputs,
        exact,
        nodes,
        vals,
        done: HashMap::new(),
        stack: Vec::new(),
        members: HashMap::new(),
    };
    order.iter().map(|&k| (k, s.eval(k))).collect()
}

/// One differential run: `edits` are (input index, value) over `Prog` then `Val`
/// inputs; `threads` askers query every node after each edit, each in its own order.
///
/// `exact`: every step reads one key at a time and stops at its first error, and every
/// result must equal the evaluator's, errors included. Otherwise some steps use
/// `get_all`, which reads every key even after an error; then a key that reads on
/// into a cycle may be a member of it or only depend on it, depending on where
/// evaluation entered, so the error it names may differ (docs/dep-tracker.md): every Ok
/// value must still be equal and every error an error.
pub(crate) fn differential(
    exact: bool,
    nodes: u8,
    vals: u8,
    initial: &[i64],
    edits: &[(usize, i64)],
    threads: usize,
    seed: u64,
) -> Result<(), String> {
    quiet_injected_panics();
    let epoch = Arc::new(AtomicU64::new(0));
    let runs: Runs = Arc::default();
    let mut engine = engine(nodes, vals, exact, Arc::clone(&epoch), Arc::clone(&runs));
    engine.set_parallel(threads > 1);
    let input_keys: Vec<Key> = (0..nodes)
        .map(Key::Prog)
        .chain((0..vals).map(Key::Val))
        .collect();
    let mut inputs = HashMap::new();
    for (i, key) in input_keys.iter().enumerate() {
        let v = initial[i % initial.len()];
        inputs.insert(*key, v);
        engine.set_input(*key, v);
    }
    let all: Vec<Key> = (0..nodes).map(Key::Node).collect();
    let mut order_seed = seed;
    for (step, &(which, value)) in std::iter::once(&(usize::MAX, 0)).chain(edits).enumerate() {
        if let Some(key) = input_keys.get(which) {
            inputs.insert(*key, value);
            if engine.set_input(*key, value) {
                epoch.fetch_add(1, Ordering::SeqCst);
            }
        }
        let want = scratch(&inputs, nodes, vals, exact, &all);
        let orders: Vec<Vec<Key>> = (0..threads)
            .map(|t| {
                let mut order = all.clone();
                // A cheap shuffle: each asker enters the graph somewhere else.
                order_seed = order_seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1 + t as u64);
                let len = order.len().max(1);
                order.rotate_left((order_seed >> 33) as usize % len);
                if (order_seed >> 20) & 1 == 1 {
                    order.reverse();
                }
                order
            })
            .collect();
        let got: Vec<Vec<(Key, Result<i64, Error>)>> = std::thread::scope(|s| {
            let engine = &engine;
            let handles: Vec<_> = orders
                .iter()
                .enumerate()
                .map(|(t, order)| {
                    s.spawn(move || {
                        if t % 2 == 1 {
                            order.iter().copied().zip(engine.get_all(order)).collect()
                        } else {
                            order
                                .iter()
                                .map(|k| (*k, engine.get(k)))
                                .collect::<Vec<_>>()
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for answers in got {
            for (key, value) in answers {
                let same = if exact {
                    value == want[&key]
                } else {
                    value.as_ref().ok() == want[&key].as_ref().ok()
                };
                if !same {
                    return Err(format!(
                        "after edit {step} ({which}, {value:?}) with {threads} threads: {key:?} is {value:?}, from scratch {:?}",
                        want[&key]
                    ));
                }
            }
        }
        let runs = runs.lock().unwrap();
        if let Some(((_, key), n)) = runs.iter().find(|(_, &n)| n > 1) {
            return Err(format!(
                "{key:?} ran {n} times in one revision (edit {step})"
            ));
        }
    }
    Ok(())
}

fn case() -> impl Strategy<Value = (u8, u8, Vec<i64>, Vec<(usize, i64)>)> {
    (2..10u8, 1..4u8).prop_flat_map(|(nodes, vals)| {
        let inputs = usize::from(nodes) + usize::from(vals);
        (
            Just(nodes),
            Just(vals),
            prop::collection::vec(any::<i64>(), 1..6),
            prop::collection::vec((0..inputs, any::<i64>()), 1..24),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_from_scratch_with_cycles_and_panics_on_one_thread(
        (nodes, vals, initial, edits) in case(), seed in any::<u64>(), exact in any::<bool>(),
    ) {
        differential(exact, nodes, vals, &initial, &edits, 1, seed).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn incremental_equals_from_scratch_with_cycles_and_panics_on_four_threads(
        (nodes, vals, initial, edits) in case(), seed in any::<u64>(), exact in any::<bool>(),
    ) {
        differential(exact, nodes, vals, &initial, &edits, 4, seed).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_a_b_src_pipeline_in_differential_form() {
    // Node 0 reads Val(0) then Node 1 when the program says so; node 1 reads node 0.
    // Program words: 2 reads, codes (Val 0 = 0b1), (Node 1 = 0b10); 1 read, code Node 0.
    let two_reads = 2 | (1 << 3) | (2 << 10);
    let one_read = 1; // one read, code 0: Node(0)
    differential(
        true,
        2,
        1,
        &[two_reads, one_read, 5],
        &[(0, 1 | (1 << 3)), (0, two_reads)],
        1,
        0,
    )
    .unwrap();
}
