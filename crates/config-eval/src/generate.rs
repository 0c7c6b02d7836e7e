//! Deterministic program generators for benchmarks, stress runs and tests.
//!
//! They produce ordinary source files (no shortcut into the engine), so what they
//! measure is what a user's configuration would cost.

/// How many independent components [`large_config`] interleaves: the width of the
/// import graph's levels.
pub const LAYER_WIDTH: usize = 32;

/// A generated multi-module configuration: `modules` modules of `decls` top-level
/// declarations each, plus a root `main.lig` that imports the last [`LAYER_WIDTH`]
/// modules. Module `i` imports up to three earlier modules: `i - LAYER_WIDTH` (its
/// predecessor in the same component), `i / 2` (a shared library) and one at random,
/// so the import graph is a DAG with both long chains (about `modules / LAYER_WIDTH`
/// modules deep) and wide levels (about `LAYER_WIDTH` modules that can be checked at
/// the same time), and every module is reachable from the root. Every declaration
/// does a little arithmetic work (a short recursive helper, records, lists, a union
/// match, a refinement). The same `seed` gives the same files. Returns
/// `(relative path, text)` pairs.
pub fn large_config(modules: usize, decls: usize, seed: u64) -> Vec<(String, String)> {
    config_of_shape(modules, decls, seed, Shape::Wide)
}

/// The same modules and declarations as [`large_config`], in the import graph it
/// had before: module `i` always imports `i - 1` (besides `i / 2` and one at random),
/// and the root imports the last four modules. The graph is then one chain through
/// every module, so a module can only be checked after all the modules before it:
/// kept to measure that a serial graph costs the parallel checker nothing, not as
/// the typical configuration.
pub fn chain_config(modules: usize, decls: usize, seed: u64) -> Vec<(String, String)> {
    config_of_shape(modules, decls, seed, Shape::Chain)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Wide,
    Chain,
}

fn config_of_shape(modules: usize, decls: usize, seed: u64, shape: Shape) -> Vec<(String, String)> {
    let modules = modules.max(1);
    let decls = decls.max(1);
    let mut rng = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut files = Vec::with_capacity(modules + 1);
    for i in 0..modules {
        let mut imports: Vec<usize> = Vec::new();
        if i > 0 {
            let first = match shape {
                Shape::Wide => i.checked_sub(LAYER_WIDTH),
                Shape::Chain => Some(i - 1),
            };
            for cand in [first, Some(i / 2), Some((next() as usize) % i)]
                .into_iter()
                .flatten()
            {
                if !imports.contains(&cand) {
                    imports.push(cand);
                }
            }
        }
        let mut s = String::with_capacity(decls * 64);
        s.push_str(&format!("module gen.m{i};\n"));
        for j in &imports {
            s.push_str(&format!("import gen.m{j} as m{j};\n"));
        }
        s.push_str("type Weight = Integer where \\w -> w >= 0;\n");
        s.push_str("type Shape = Square(Integer) | Line(Integer) | Empty;\n");
        s.push_str("let work = \\n -> if n <= 0 then 0 else (n % 7) + work (n - 1);\n");
        s.push_str("let measure = \\s -> match s { Square(x) if x > 100 => x, Square(x) => x * x, Line(x) => x, Empty => 0 };\n");
        for d in 0..decls {
            let k = next();
            let local = if d > 0 {
                Some((k as usize >> 8) % d)
            } else {
                None
            };
            let imported = if imports.is_empty() {
                None
            } else {
                Some(imports[(k as usize >> 16) % imports.len()])
            };
            let operand = match (local, imported, k % 3) {
                (_, Some(j), 0) => format!("m{j}.d{}", (k as usize >> 24) % decls),
                (Some(l), _, _) => format!("d{l}"),
                _ => format!("{}", k % 100),
            };
            let c = (k >> 32) % 50;
            let body = match k % 5 {
                0 => format!("work {} + {operand}", 4 + c % 8),
                1 => format!("let r = {{ a = {operand}, b = {c} }} in r.a % 1000 + r.b + work 3"),
                2 => format!("measure (Square({operand} % 50)) + measure (Line({c})) + measure Empty"),
                3 => format!("let xs = [{operand}, {c}, work 5] in match xs {{ [a, b, w] => (a + b + w) % 10007, _ => 0 }}"),
                _ => format!("if {operand} > {c} then {operand} % 997 else {c} * 2"),
            };
            let ann = if k % 4 == 0 { ": Weight" } else { "" };
            s.push_str(&format!("export let d{d}{ann} = {body};\n"));
        }
        files.push((format!("gen/m{i}.lig"), s));
    }
    let mut main = String::from("module main;\n");
    // Every module below the last `LAYER_WIDTH` is imported by the one `LAYER_WIDTH`
    // after it, so importing those reaches every module.
    let width = match shape {
        Shape::Wide => LAYER_WIDTH,
        Shape::Chain => 4,
    };
    let roots: Vec<usize> = (modules.saturating_sub(width)..modules).collect();
    for r in &roots {
        main.push_str(&format!("import gen.m{r} as m{r};\n"));
    }
    let sum: Vec<String> = roots.iter().map(|r| format!("m{r}.d0")).collect();
    main.push_str(&format!("export let total = {};\n", sum.join(" + ")));
    main.push_str(&format!("export let modules = {modules};\n"));
    files.push(("main.lig".to_owned(), main));
    files
}

/// A small self-contained program numbered `n`, for many-programs stress runs. Some
/// numbers give programs that fail at evaluation (division by zero), deliberately.
pub fn small_program(n: u64) -> String {
    let a = n % 97;
    let b = n % 13;
    let div = if n % 10 == 7 { 0 } else { b + 1 };
    format!(
        "module p{n};\n\
         type Option 'T = Some('T) | None;\n\
         let f = \\x -> if x <= 1 then 1 else x * f (x - 1);\n\
         let base = {a};\n\
         let opt = if base % 2 == 0 then Some(base) else None;\n\
         export let value = match opt {{ Some(x) => x + f {b}, None => base / {div} }};\n\
         export let record = {{ id = {n}, name = \"p\" ++ \"{n}\", items = [base, {b}, value] }};\n"
    )
}

/// The same configuration written twice: in this crate's language and in Jsonnet.
#[derive(Debug, Clone)]
pub struct TwinConfig {
    /// Ligature files, `(relative path, text)`; the root is `main.lig`.
    pub ligature: Vec<(String, String)>,
    /// Jsonnet files, `(relative path, text)`; the root is `main.jsonnet`.
    pub jsonnet: Vec<(String, String)>,
}

/// A configuration of `modules` modules of `records` service records each (the
/// benchmarks use 2,000 records over 50 modules and 20,000 over 500), in both
/// languages, with the same JSON output: `{"modules": N, "services": [[...], ...]}`,
/// one list of records per module. Every module imports a shared helper module whose
/// function builds a record from a base number, an index and a name (arithmetic,
/// conditionals, string concatenation, a nested record and a list per record), as a
/// hand-written configuration would. It uses no `%`: Jsonnet implements `%` in its
/// standard library (as `std.mod`, which also formats strings), which made its runs
/// about five times slower, and the comparison is about evaluation, not one operator.
pub fn twin_config(modules: usize, records: usize) -> TwinConfig {
    let modules = modules.max(1);
    let mut lig = Vec::with_capacity(modules + 2);
    let mut jsn = Vec::with_capacity(modules + 2);
    lig.push((
        "gen/common.lig".to_owned(),
        "module gen.common;\n\
         export let mk = \\base n name -> {\n  \
           name = name,\n  \
           host = name ++ \".internal\",\n  \
           port = base * 100 + n,\n  \
           replicas = if n < 20 then 3 else 1,\n  \
           tags = [\"svc\", name],\n  \
           limits = { cpu = if n > 30 then 4 else 2, memory = (n + 1) * 256 },\n  \
           enabled = n != 7\n\
         };\n"
            .to_owned(),
    ));
    jsn.push((
        "gen/common.libsonnet".to_owned(),
        "{\n  \
           mk(base, n, name):: {\n    \
             name: name,\n    \
             host: name + '.internal',\n    \
             port: base * 100 + n,\n    \
             replicas: if n < 20 then 3 else 1,\n    \
             tags: ['svc', name],\n    \
             limits: { cpu: if n > 30 then 4 else 2, memory: (n + 1) * 256 },\n    \
             enabled: n != 7,\n  \
           },\n\
         }\n"
        .to_owned(),
    ));
    for i in 0..modules {
        let mut l = format!(
            "module gen.r{i};\nimport gen.common as common;\nlet base = {i} + 1;\nexport let records = [\n"
        );
        let mut j = format!(
            "local common = import 'common.libsonnet';\nlocal base = {i} + 1;\n{{\n  records: [\n"
        );
        for n in 0..records {
            l.push_str(&format!("  common.mk base {n} \"svc-{i}-{n}\",\n"));
            j.push_str(&format!("    common.mk(base, {n}, 'svc-{i}-{n}'),\n"));
        }
        // No trailing comma in this crate's lists.
        if records > 0 {
            l.truncate(l.len() - 2);
            l.push('\n');
        }
        l.push_str("];\n");
        j.push_str("  ],\n}\n");
        lig.push((format!("gen/r{i}.lig"), l));
        jsn.push((format!("gen/r{i}.libsonnet"), j));
    }
    let mut l = String::from("module main;\n");
    let mut j = String::new();
    for i in 0..modules {
        l.push_str(&format!("import gen.r{i} as r{i};\n"));
        j.push_str(&format!("local r{i} = import 'gen/r{i}.libsonnet';\n"));
    }
    let lists: Vec<String> = (0..modules).map(|i| format!("r{i}.records")).collect();
    l.push_str(&format!(
        "export let modules = {modules};\nexport let services = [{}];\n",
        lists.join(", ")
    ));
    j.push_str(&format!(
        "{{\n  modules: {modules},\n  services: [{}],\n}}\n",
        lists.join(", ")
    ));
    lig.push(("main.lig".to_owned(), l));
    jsn.push(("main.jsonnet".to_owned(), j));
    TwinConfig {
        ligature: lig,
        jsonnet: jsn,
    }
}

/// `let f = \x -> { a = x, b = x };` applied `applications` times to `1`, as one
/// module. The result's type printed as a tree has 2^applications leaves; a checker
/// that shares types checks it in time linear in `applications`. Only a small
/// binding is exported, since the value (shared in memory) has as many leaves.
pub fn doubling_program(applications: usize) -> String {
    let mut call = "1".to_owned();
    for _ in 0..applications {
        call = format!("f ({call})");
    }
    format!(
        "let f = \\x -> {{ a = x, b = x }};\nlet r = {call};\nlet leaf = r.a.b;\nexport let ok = true;\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The imports of each generated module (by number) and of the root, read back
    /// from the text.
    fn import_graph(files: &[(String, String)]) -> Vec<Vec<usize>> {
        files
            .iter()
            .map(|(_, text)| {
                text.lines()
                    .filter_map(|l| l.strip_prefix("import gen.m"))
                    .map(|rest| {
                        let n = rest.split(' ').next().unwrap_or_default();
                        n.parse().unwrap()
                    })
                    .collect()
            })
            .collect()
    }

    /// Modules on the longest import path ending at each module, and whether each is
    /// reachable from the root (the last file).
    fn depth_and_reach(files: &[(String, String)]) -> (usize, Vec<bool>) {
        let g = import_graph(files);
        let mut depth = vec![0usize; g.len()];
        for i in 0..g.len() {
            depth[i] = 1 + g[i].iter().map(|&j| depth[j]).max().unwrap_or(0);
        }
        let mut reach = vec![false; g.len()];
        let mut stack = vec![g.len() - 1];
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut reach[i], true) {
                stack.extend(g[i].iter().copied());
            }
        }
        (depth[g.len() - 1], reach)
    }

    #[test]
    fn the_large_configuration_is_wide_and_fully_reachable() {
        for modules in [1, 5, LAYER_WIDTH, 300, 2000] {
            let files = large_config(modules, 3, 11);
            assert_eq!(files.len(), modules + 1);
            let (depth, reach) = depth_and_reach(&files);
            assert!(reach.iter().all(|r| *r), "{modules} modules");
            // Chains through the components, lengthened a little by the other two
            // imports, but nowhere near one module after another.
            assert!(
                depth <= 3 * (modules / LAYER_WIDTH) + 20,
                "{modules}: depth {depth}"
            );
        }
    }

    #[test]
    fn the_twin_configuration_evaluates_to_the_documented_shape() {
        let twin = twin_config(3, 4);
        assert_eq!(twin.ligature.len(), 5);
        assert_eq!(twin.jsonnet.len(), 5);
        let engine = crate::Engine::new(crate::Config::default()).unwrap();
        let files: Vec<(&str, &str)> = twin
            .ligature
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let p = engine.load_files(&files, "main.lig").unwrap();
        let json = engine.eval(&p).unwrap().to_json().unwrap();
        assert_eq!(json["modules"], 3);
        let services = json["services"].as_array().unwrap();
        assert_eq!(services.len(), 3);
        assert_eq!(
            services[2][3],
            serde_json::json!({
                "name": "svc-2-3", "host": "svc-2-3.internal", "port": 303,
                "replicas": 3, "tags": ["svc", "svc-2-3"],
                "limits": {"cpu": 2, "memory": 1024}, "enabled": true
            })
        );
        let p = engine
            .load_files(&[("main.lig", &doubling_program(60))], "main.lig")
            .unwrap();
        assert_eq!(
            engine.eval(&p).unwrap().to_json().unwrap(),
            serde_json::json!({"ok": true})
        );
    }

    #[test]
    fn the_chain_configuration_is_one_chain() {
        let files = chain_config(200, 3, 11);
        let (depth, reach) = depth_and_reach(&files);
        assert!(reach.iter().all(|r| *r));
        assert_eq!(depth, 201);
    }
}
