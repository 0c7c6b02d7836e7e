//! Deterministic program generators for benchmarks, stress runs and tests.
//!
//! They produce ordinary source files (no shortcut into the engine), so what they
//! measure is what a user's configuration would cost.

/// A generated multi-module configuration: `modules` modules of `decls` top-level
/// declarations each, plus a root `main.lig` that imports the last few modules.
/// Module `i` imports up to three earlier modules, so the import graph is a DAG with
/// both long chains and wide levels; every declaration does a little arithmetic work
/// (a short recursive helper, records, lists, a union match, a refinement). The same
/// `seed` gives the same files. Returns `(relative path, text)` pairs.
pub fn large_config(modules: usize, decls: usize, seed: u64) -> Vec<(String, String)> {
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
            for cand in [i - 1, i / 2, (next() as usize) % i] {
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
    let roots: Vec<usize> = (modules.saturating_sub(4)..modules).collect();
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
