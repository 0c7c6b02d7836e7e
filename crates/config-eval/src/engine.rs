//! The engine: configuration, the worker pool, the caches, and the sequential and
//! parallel type-check and evaluation paths.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::cache::{hash_of, ConcurrentCache, TierStats};
use crate::error::Error;
use crate::eval::{Ctx, Limits, ModuleRuntime, Value};
use crate::program::{load, split_root, LoadLimits, Program, Source};
use crate::scheduler::{Priority, TaskId, WorkQueue};
use crate::sync::{Arc, AtomicU64, DashMap, Ordering};
use crate::types::{check_module_with, CheckLimits, ModuleTypes};

/// Stack size of the engine's worker threads. Evaluation recurses on the syntax tree
/// and on function calls; [`Config::max_depth`] bounds the recursion, and this stack
/// is sized so that the bound is reached long before the stack is exhausted. The
/// memory is reserved, not committed.
const STACK_SIZE: usize = 256 << 20;

/// How an engine runs. `Config::default()` is sequential unless the
/// `parallel-default` feature is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Type-check and evaluate in parallel (when the program is large enough).
    pub parallel: bool,
    /// Worker threads; 0 means one per available CPU. 1 forces the sequential path.
    pub worker_threads: usize,
    /// Entries per cache tier (parsed, typed, evaluated modules); 0 turns caching off.
    pub cache_size: usize,
    /// Stop after this long. It covers each call as a whole: [`Engine::load`]
    /// (reading and parsing, [`Error::Timeout`]), and [`Engine::eval`] or
    /// [`Engine::typecheck`] (type checking, [`Error::Timeout`], then evaluation,
    /// [`Error::EvaluationTimeout`]). `None` turns it off. Default: 60 seconds.
    pub timeout: Option<Duration>,
    /// Stop after this many evaluation steps (expression visits) with
    /// [`Error::StepLimit`]. Counted per thread and published every 256 steps, so the
    /// limit is exact to within 256 steps per worker. Default: 1,000,000,000 (a few
    /// seconds to a minute of work).
    pub max_steps: u64,
    /// Deepest nesting of evaluations (recursion) before [`Error::RecursionLimit`].
    pub max_depth: usize,
    /// Most type-checking steps per module (expressions visited, unification pairs,
    /// type nodes traversed or copied) before [`Error::CheckLimit`]. Checking is
    /// linear in the size of the program, so the default is far above what real
    /// configurations take.
    pub max_check_steps: u64,
    /// Largest string (in bytes) or list (in elements) an evaluation may build,
    /// before [`Error::ValueTooLarge`]. Default: 16 MiB (16,777,216).
    pub max_value_size: usize,
    /// Largest module file (in bytes) [`Engine::load`] reads, before
    /// [`Error::InputTooLarge`]. Default: 64 MiB.
    pub max_input_size: u64,
    /// Programs with fewer top-level declarations than this run sequentially even in
    /// parallel mode: below it, the fork-join overhead costs more than it saves.
    pub parallel_threshold: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            parallel: cfg!(feature = "parallel-default"),
            worker_threads: 0,
            cache_size: 4096,
            timeout: Some(Duration::from_secs(60)),
            max_steps: 1_000_000_000,
            max_depth: 20_000,
            max_check_steps: 100_000_000,
            max_value_size: 16 << 20,
            max_input_size: 64 << 20,
            parallel_threshold: 64,
        }
    }
}

/// Which path a run takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One thread, modules and declarations in order: the reference.
    Sequential,
    /// Modules checked in parallel along the import graph; declarations evaluated in
    /// parallel with single-flight per binding.
    Parallel,
}

/// Counters of an engine's runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Cache statistics per tier.
    pub cache: TierStats,
    /// Runs that took the sequential path.
    pub sequential_runs: u64,
    /// Runs that took the parallel path.
    pub parallel_runs: u64,
    /// Evaluation steps of the last evaluation.
    pub last_steps: u64,
    /// Type-checking steps of the last type check (see [`Config::max_check_steps`]),
    /// summed over the modules it checked; modules found in the cache count 0.
    pub last_check_steps: u64,
}

/// The immutable interfaces of checked modules, shared by the threads of a parallel
/// type check. Only finished modules are published, and a published entry is never
/// changed: local scopes live inside each module's own checker.
#[derive(Default)]
pub(crate) struct ConcurrentTypeEnvironment {
    modules: DashMap<usize, Arc<ModuleTypes>>,
}

impl ConcurrentTypeEnvironment {
    fn publish(&self, module: usize, types: Arc<ModuleTypes>) {
        self.modules.insert(module, types);
    }
    fn get(&self, module: usize) -> Option<Arc<ModuleTypes>> {
        self.modules.get(&module).map(|e| e.value().clone())
    }
}

/// Loads, type-checks and evaluates programs.
pub struct Engine {
    config: Config,
    workers: usize,
    pool: rayon::ThreadPool,
    cache: Arc<ConcurrentCache>,
    sequential_runs: AtomicU64,
    parallel_runs: AtomicU64,
    last_steps: AtomicU64,
    last_check_steps: AtomicU64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("workers", &self.workers)
            .finish()
    }
}

impl Engine {
    /// An engine with its own worker pool and cache.
    pub fn new(config: Config) -> Result<Self, Error> {
        if config.max_depth == 0 {
            return Err(Error::Config("max_depth must be at least 1".into()));
        }
        if config.timeout == Some(Duration::ZERO) {
            return Err(Error::Config(
                "a timeout of 0 would stop everything; use None to turn it off".into(),
            ));
        }
        let workers = match config.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        if workers > 1024 {
            return Err(Error::Config(format!(
                "{workers} worker threads is more than the 1024 allowed"
            )));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .stack_size(STACK_SIZE)
            .thread_name(|i| format!("config-eval-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start worker threads: {e}")))?;
        Ok(Engine {
            cache: Arc::new(ConcurrentCache::new(config.cache_size)),
            config,
            workers,
            pool,
            sequential_runs: AtomicU64::new(0),
            parallel_runs: AtomicU64::new(0),
            last_steps: AtomicU64::new(0),
            last_check_steps: AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The engine's cache.
    pub fn cache(&self) -> &ConcurrentCache {
        &self.cache
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            cache: self.cache.stats(),
            sequential_runs: self.sequential_runs.load(Ordering::Relaxed),
            parallel_runs: self.parallel_runs.load(Ordering::Relaxed),
            last_steps: self.last_steps.load(Ordering::Relaxed),
            last_check_steps: self.last_check_steps.load(Ordering::Relaxed),
        }
    }

    /// Loads the module file at `path` and its imports; imports resolve under the
    /// file's directory and may not leave it.
    pub fn load(&self, path: &Path) -> Result<Program, Error> {
        let (dir, root) = split_root(path)?;
        // Parsing recurses (boundedly); the pool's threads have the stack for it
        // whatever thread the caller is on.
        let limits = self.load_limits();
        self.pool
            .install(|| load(&Source::Dir(dir), &root, &self.cache, &limits))
    }

    /// Loads a program from in-memory files (`(relative path, text)`), starting at
    /// `root`.
    pub fn load_files(&self, files: &[(&str, &str)], root: &str) -> Result<Program, Error> {
        let map = files
            .iter()
            .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
            .collect();
        let limits = self.load_limits();
        self.pool
            .install(|| load(&Source::Memory(map), root, &self.cache, &limits))
    }

    /// Type-checks and evaluates one self-contained module given as text.
    pub fn eval_str(&self, source: &str) -> Result<Value, Error> {
        let p = self.load_files(&[("main.lig", source)], "main.lig")?;
        self.eval(&p)
    }

    /// The path a run of `program` takes under this configuration: sequential when
    /// parallelism is off, when there is one worker, or below the size threshold.
    pub fn strategy_for(&self, program: &Program) -> Strategy {
        if self.config.parallel
            && self.workers > 1
            && program.declaration_count() >= self.config.parallel_threshold
        {
            Strategy::Parallel
        } else {
            Strategy::Sequential
        }
    }

    /// Type-checks the program with the configured strategy.
    pub fn typecheck(&self, program: &Program) -> Result<(), Error> {
        self.typecheck_with(program, self.strategy_for(program))
    }

    /// Type-checks and evaluates with the configured strategy; the result is a record
    /// of the root module's exported (or, without exports, all) non-function bindings.
    pub fn eval(&self, program: &Program) -> Result<Value, Error> {
        self.eval_with(program, self.strategy_for(program))
    }

    /// Type-checks with an explicit strategy.
    pub fn typecheck_with(&self, program: &Program, strategy: Strategy) -> Result<(), Error> {
        let started = Instant::now();
        self.count(strategy);
        let keys = Self::module_keys(program);
        match strategy {
            Strategy::Sequential => self
                .pool
                .install(|| self.check_sequential(program, &keys, started).map(|_| ())),
            Strategy::Parallel => self.check_parallel(program, &keys, started).map(|_| ()),
        }
    }

    /// Type-checks and evaluates with an explicit strategy.
    pub fn eval_with(&self, program: &Program, strategy: Strategy) -> Result<Value, Error> {
        let started = Instant::now();
        self.count(strategy);
        let keys = Self::module_keys(program);
        match strategy {
            // Checking and evaluating in one visit to the pool: a small program's run
            // costs one hand-off to a big-stack worker, not one per phase.
            Strategy::Sequential => self.pool.install(|| {
                self.check_sequential(program, &keys, started)?;
                self.evaluate(program, &keys, strategy, started)
            }),
            Strategy::Parallel => {
                self.check_parallel(program, &keys, started)?;
                self.evaluate(program, &keys, strategy, started)
            }
        }
    }

    /// Evaluates without type-checking first, for measuring the evaluation phase on its
    /// own: call it on a program that [`Engine::typecheck_with`] accepted. On an
    /// unchecked program it is still memory-safe and never panics, but a type fault
    /// shows up as a confusing evaluation error instead of a type error.
    pub fn evaluate_with(&self, program: &Program, strategy: Strategy) -> Result<Value, Error> {
        let started = Instant::now();
        self.count(strategy);
        let keys = Self::module_keys(program);
        match strategy {
            Strategy::Sequential => self
                .pool
                .install(|| self.evaluate(program, &keys, strategy, started)),
            Strategy::Parallel => self.evaluate(program, &keys, strategy, started),
        }
    }

    /// The type checker's limits for a call that started at `started`.
    fn check_limits(&self, started: Instant) -> CheckLimits {
        CheckLimits {
            max_steps: self.config.max_check_steps,
            deadline: self.config.timeout.map(|t| (started + t, t)),
        }
    }

    fn load_limits(&self) -> LoadLimits {
        LoadLimits {
            max_input_size: self.config.max_input_size,
            deadline: self.config.timeout.map(|t| (Instant::now() + t, t)),
        }
    }

    fn count(&self, strategy: Strategy) {
        let c = match strategy {
            Strategy::Sequential => &self.sequential_runs,
            Strategy::Parallel => &self.parallel_runs,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Semantic key of each module: its syntax tree (spans excluded), its path (which
    /// qualifies its union types), and the keys of its imports.
    fn module_keys(program: &Program) -> Vec<u64> {
        let mut keys: Vec<u64> = Vec::with_capacity(program.modules.len());
        for m in &program.modules {
            let import_keys: Vec<u64> = m.imports.iter().map(|&i| keys[i]).collect();
            keys.push(hash_of(&(m.ast_hash, &m.file, import_keys)));
        }
        keys
    }

    fn import_map(
        program: &Program,
        i: usize,
        typed: impl Fn(usize) -> Option<Arc<ModuleTypes>>,
    ) -> HashMap<String, Arc<ModuleTypes>> {
        let m = &program.modules[i];
        m.ast
            .imports
            .iter()
            .zip(&m.imports)
            .filter_map(|(imp, &j)| typed(j).map(|t| (imp.alias.clone(), t)))
            .collect()
    }

    /// The reference checker: modules in dependency order on the calling thread, which
    /// must be one of the pool's (big-stack) workers.
    fn check_sequential(
        &self,
        program: &Program,
        keys: &[u64],
        started: Instant,
    ) -> Result<Vec<Arc<ModuleTypes>>, Error> {
        let limits = self.check_limits(started);
        let mut out: Vec<Arc<ModuleTypes>> = Vec::with_capacity(keys.len());
        let mut steps = 0u64;
        for (i, m) in program.modules.iter().enumerate() {
            let t = self.cache.typed_or(keys[i], || {
                let imports = Self::import_map(program, i, |j| out.get(j).cloned());
                let t = check_module_with(&m.file, &m.ast, &imports, limits)?;
                steps = steps.saturating_add(t.steps);
                Ok::<_, Error>(Arc::new(t))
            })?;
            out.push(t);
        }
        self.last_check_steps.store(steps, Ordering::Relaxed);
        Ok(out)
    }

    /// One task per module on a [`WorkQueue`], depending on the module's imports: a
    /// module starts as soon as its imports are done, on whichever worker is free.
    fn check_parallel(
        &self,
        program: &Program,
        keys: &[u64],
        started: Instant,
    ) -> Result<Vec<Arc<ModuleTypes>>, Error> {
        let env = Arc::new(ConcurrentTypeEnvironment::default());
        let queue: Arc<WorkQueue<()>> = Arc::new(WorkQueue::new());
        let program = Arc::new(program.clone());
        let mut dependents = vec![0usize; program.modules.len()];
        for m in &program.modules {
            for &j in &m.imports {
                dependents[j] += 1;
            }
        }
        let mut ids: Vec<TaskId> = Vec::with_capacity(program.modules.len());
        let mut submit_error = None;
        let limits = self.check_limits(started);
        let steps = Arc::new(AtomicU64::new(0));
        self.pool.scope(|s| {
            for _ in 0..self.workers {
                let q = queue.clone();
                s.spawn(move |_| q.run_worker());
            }
            for i in 0..program.modules.len() {
                let deps: Vec<TaskId> =
                    program.modules[i].imports.iter().map(|&j| ids[j]).collect();
                let priority = if dependents[i] > 0 {
                    Priority::High
                } else {
                    Priority::Normal
                };
                let (env, program, cache, key, steps) = (
                    env.clone(),
                    program.clone(),
                    self.cache.clone(),
                    keys[i],
                    steps.clone(),
                );
                let submitted = queue.submit(priority, &deps, move |_| {
                    let t = cache.typed_or(key, || {
                        let imports = Self::import_map(&program, i, |j| env.get(j));
                        let m = &program.modules[i];
                        let t = check_module_with(&m.file, &m.ast, &imports, limits)?;
                        steps.fetch_add(t.steps, Ordering::Relaxed);
                        Ok::<_, Error>(Arc::new(t))
                    })?;
                    env.publish(i, t);
                    Ok(())
                });
                match submitted {
                    Ok(id) => ids.push(id),
                    Err(e) => {
                        submit_error = Some(e);
                        break;
                    }
                }
            }
            queue.close();
        });
        self.last_check_steps
            .store(steps.load(Ordering::Relaxed), Ordering::Relaxed);
        if let Some(e) = submit_error {
            return Err(e);
        }
        // The first failure in dependency order is the one the sequential path reports:
        // a module that failed only because an import failed comes after that import.
        for &id in &ids {
            queue.wait(id)?;
        }
        (0..program.modules.len())
            .map(|i| {
                env.get(i).ok_or(Error::TaskFailed {
                    task: i as u64,
                    message: "module was not checked".into(),
                })
            })
            .collect()
    }

    fn runtimes(&self, program: &Program, keys: &[u64]) -> (Vec<Arc<ModuleRuntime>>, Vec<bool>) {
        let mut rts: Vec<Arc<ModuleRuntime>> = Vec::with_capacity(keys.len());
        let mut fresh = Vec::with_capacity(keys.len());
        for (i, m) in program.modules.iter().enumerate() {
            if let Some(rt) = self.cache.get_value(keys[i]) {
                rts.push(rt);
                fresh.push(false);
                continue;
            }
            let imports = m.imports.iter().map(|&j| rts[j].clone()).collect();
            rts.push(ModuleRuntime::new(&m.file, &m.ast, imports));
            fresh.push(true);
        }
        (rts, fresh)
    }

    /// Evaluates every binding. With [`Strategy::Sequential`] the caller must already
    /// be on one of the pool's workers (the evaluator recurses); the parallel path
    /// enters the pool itself.
    fn evaluate(
        &self,
        program: &Program,
        keys: &[u64],
        strategy: Strategy,
        started: Instant,
    ) -> Result<Value, Error> {
        let (rts, fresh) = self.runtimes(program, keys);
        let limits = Limits::new(
            started,
            self.config.timeout,
            self.config.max_steps,
            self.config.max_depth,
            self.config.max_value_size,
        );
        let outcome = match strategy {
            Strategy::Sequential => {
                let mut ctx = Ctx::new(&limits);
                rts.iter()
                    .zip(&fresh)
                    .filter(|(_, is_fresh)| **is_fresh)
                    .try_for_each(|(rt, _)| {
                        (0..rt.len()).try_for_each(|s| ctx.force(rt, s).map(drop))
                    })
            }
            Strategy::Parallel => {
                let work: Vec<(usize, usize)> = rts
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| fresh[*i])
                    .flat_map(|(i, rt)| (0..rt.len()).map(move |s| (i, s)))
                    .collect();
                self.pool.install(|| {
                    work.par_iter().with_min_len(4).for_each(|&(i, s)| {
                        let mut ctx = Ctx::new(&limits);
                        // The result stays in the binding's cell; it is read below.
                        let _ = ctx.force(&rts[i], s);
                    })
                });
                let mut first = Ok(());
                'scan: for &(i, s) in &work {
                    if let Some(Err(e)) = rts[i].result(s) {
                        first = Err(e.clone());
                        break 'scan;
                    }
                }
                first
            }
        };
        self.last_steps.store(limits.steps(), Ordering::Relaxed);
        for (i, rt) in rts.iter().enumerate() {
            if fresh[i] && rt.all_ok() {
                self.cache.put_value(keys[i], rt.clone());
            }
        }
        outcome?;
        let root = &rts[program.root()];
        let mut out = BTreeMap::new();
        for &i in &root.exported {
            match root.result(i) {
                Some(Ok(Value::Function(_))) => {}
                Some(Ok(v)) => {
                    out.insert(root.decls[i].name.clone(), v.clone());
                }
                Some(Err(e)) => return Err(e.clone()),
                None => {
                    return Err(Error::Eval {
                        file: root.file.clone(),
                        binding: root.decls[i].name.clone(),
                        line: root.decls[i].span.line,
                        col: root.decls[i].span.col,
                        message: "the binding was never evaluated".into(),
                    })
                }
            }
        }
        Ok(Value::Record(Arc::new(out)))
    }
}
