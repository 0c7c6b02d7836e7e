//! The language across modules and through the public API: imports bound by their
//! file's stem, export lists seen from an importer, refinements declared in one module
//! and checked in another, the standard library and the printer on the new forms.

use config_eval::format_source;

use crate::eval_both;

fn json(files: &[(&str, &str)]) -> serde_json::Value {
    eval_both(files).unwrap().to_json().unwrap()
}

#[test]
fn an_import_without_an_alias_binds_the_file_stem() {
    let files = [
        ("std/core.lig", "export let twice = \\x -> x * 2;"),
        ("math_utils.lig", "let add = \\a b -> a + b;"),
        ("lib/strings.lig", "let shout = \\s -> upper s ++ \"!\";"),
        (
            "main.lig",
            "import \"std.core\";\nimport \"./math_utils\"\nimport \"lib/strings.lig\";\nlet a = core.twice 4;\nlet b = math_utils.add(1, 2);\nlet c = strings.shout \"hi\";",
        ),
    ];
    assert_eq!(
        json(&files),
        serde_json::json!({"a": 8, "b": 3, "c": "HI!"})
    );
}

#[test]
fn an_import_whose_stem_is_not_a_name_asks_for_an_alias() {
    let files = [
        ("my-lib.lig", "let x = 1;"),
        ("main.lig", "import \"my-lib.lig\";\nlet y = 2;"),
    ];
    let err = eval_both(&files).unwrap_err().to_string();
    assert!(err.contains("add `as name`"), "{err}");
    let files = [
        ("my-lib.lig", "let x = 1;"),
        ("main.lig", "import \"my-lib.lig\" as lib;\nlet y = lib.x;"),
    ];
    assert_eq!(json(&files), serde_json::json!({"y": 1}));
}

#[test]
fn an_export_list_decides_what_importers_see() {
    let lib = "type Mode = Fast | Slow;\nlet speed = 3;\nlet hidden = 4;\nlet pick = \\m -> match m { Fast => speed, Slow => 1 };\nexport Mode, speed, pick;";
    let files = [
        ("lib.lig", lib),
        (
            "main.lig",
            "import lib;\nlet a = lib.pick Fast;\nlet b = lib.speed;",
        ),
    ];
    assert_eq!(json(&files), serde_json::json!({"a": 3, "b": 3}));
    let files = [
        ("lib.lig", lib),
        ("main.lig", "import lib;\nlet c = lib.hidden;"),
    ];
    let err = eval_both(&files).unwrap_err().to_string();
    assert!(
        err.contains("module `lib` does not export `hidden`"),
        "{err}"
    );
}

#[test]
fn refinements_declared_in_an_imported_module_check_payloads_and_results() {
    let net = "export type Port = Integer where x >= 1024 && x <= 65535;\nexport type Listener = Listen Port | Off;\nexport let shift: Integer -> Port = \\n -> n + 1000;";
    let ok = [
        ("net.lig", net),
        (
            "main.lig",
            "import net;\nlet l = Listen 8080;\nlet p = net.shift 100;",
        ),
    ];
    assert_eq!(
        json(&ok),
        serde_json::json!({"l": {"Listen": 8080}, "p": 1100})
    );
    let bad_payload = [
        ("net.lig", net),
        ("main.lig", "import net;\nlet l = Listen 80;"),
    ];
    let err = eval_both(&bad_payload).unwrap_err().to_string();
    assert!(
        err.contains("main.lig:2:16: evaluation error in `l`: the payload of `Listen` 80 does not satisfy the refinement of `Port` `(x >= 1024) && (x <= 65535)` (declared at net.lig:1)"),
        "{err}"
    );
    let bad_result = [
        ("net.lig", net),
        ("main.lig", "import net;\nlet p = net.shift (0 - 1009);"),
    ];
    let err = eval_both(&bad_result).unwrap_err().to_string();
    assert!(
        err.contains("the result -9 does not satisfy the refinement of `Port`"),
        "{err}"
    );
    assert!(err.contains("net.lig:1"), "{err}");
}

#[test]
fn a_refined_function_passed_around_keeps_its_checks() {
    let src = "type Small = Integer where x < 10;\nlet inc: Integer -> Small = \\n -> n + 1;\nlet applied = map inc [1, 2, 3];\nlet broken = map inc [1, 20];";
    let err = eval_both(&[("main.lig", src)]).unwrap_err().to_string();
    assert!(err.contains("evaluation error in `broken`"), "{err}");
    assert!(err.contains("the result 21 does not satisfy"), "{err}");
}

#[test]
fn builtins_can_be_shadowed_by_the_program() {
    let src = "let map = \\f o -> match o { Some(x) => Some(f(x)), None => None };\ntype Option = Some Integer | None;\nlet r = map (\\x -> x + 1) (Some 1);\nlet n = let length = 7 in length;";
    assert_eq!(
        json(&[("main.lig", src)]),
        serde_json::json!({"r": {"Some": 2}, "n": 7})
    );
}

#[test]
fn builtins_are_curried_values() {
    let src = "let lengths = map length [\"a\", \"bc\"];\nlet joinDash = join \"-\";\nlet joined = joinDash [\"a\", \"b\"];\nlet folds = fold (\\acc f -> f acc) 1 [\\x -> x + 1, \\x -> x * 10];";
    assert_eq!(
        json(&[("main.lig", src)]),
        serde_json::json!({"lengths": [1, 2], "joined": "a-b", "folds": 20})
    );
}

#[test]
fn a_recursive_function_over_a_list_of_any_length() {
    let src = "let last = \\xs -> match xs { [x] => x, [_, ...rest] => last rest, [] => 0 };\nlet n = last (range 0 1000);";
    assert_eq!(json(&[("main.lig", src)]), serde_json::json!({"n": 999}));
}

#[test]
fn the_printer_round_trips_the_new_forms() {
    let src = "module m;\ntypeclass Show 'a where show : 'a -> String;\ntype O = Some Integer | None;\ntype P = Integer where x > 0;\nlet r = { A_B = 1, \"x-y\" = 2 };\nlet u = { r | A_B = 3 } & { c = 4 };\nlet s = \"a ${r.A_B} \\$ ${\"b\"}\";\nlet t = \"${\"only\"}\";\nlet f = \\xs -> match xs { [a, ...rest] when a > 0 => rest, _ => [] };\nlet g = add(1, 2);\nlet h = 1 < 2 <= 3;\ninstance Show Integer where show = \\n -> toString n;\nexport r, O;";
    let printed = format_source(src).unwrap();
    let again = format_source(&printed).unwrap();
    assert_eq!(printed, again);
    assert!(printed.contains("export type O"), "{printed}");
}

#[test]
fn type_classes_cross_modules() {
    let lib = "export typeclass Show 'a where show : 'a -> String;\ninstance Show Integer where show = \\n -> \"#\" ++ toString n;\nexport let bracket = \\v -> \"[\" ++ show v ++ \"]\";";
    let files = [
        ("lib.lig", lib),
        (
            "main.lig",
            "import lib;\ntype Port = { port: Integer };\ninstance Show Port where show = \\p -> \"port \" ++ toString p.port;\nlet a = show 3;\nlet b = show { port = 80 };\nlet c = lib.bracket 4;",
        ),
    ];
    assert_eq!(
        json(&files),
        serde_json::json!({"a": "#3", "b": "port 80", "c": "[#4]"})
    );
    // An instance the importer declares is checked against the imported class.
    let files = [
        ("lib.lig", lib),
        (
            "main.lig",
            "import lib;\ninstance Show Integer where show = \\n -> \"dup\";",
        ),
    ];
    let err = eval_both(&files).unwrap_err().to_string();
    assert!(
        err.contains("`Show` already has an instance for Integer"),
        "{err}"
    );
    // A use at a known type without an instance is a type error in the importer.
    let files = [
        ("lib.lig", lib),
        ("main.lig", "import lib;\nlet x = show true;"),
    ];
    let err = eval_both(&files).unwrap_err().to_string();
    assert!(
        err.contains("main.lig:2:9: type error: no instance of `Show` for Bool"),
        "{err}"
    );
}

/// The `.lig` files of the README's worked example (fenced blocks whose first line is
/// `-- path.lig`), and the JSON it shows.
fn readme_example() -> (Vec<(String, String)>, serde_json::Value) {
    let readme = include_str!("../../README.md");
    let mut files = Vec::new();
    let mut json = None;
    let mut blocks = readme.split("```");
    // Odd pieces are fenced blocks: `lang\nbody`.
    blocks.next();
    while let (Some(block), _) = (blocks.next(), blocks.next()) {
        let (lang, body) = block.split_once('\n').unwrap_or((block, ""));
        let first = body.lines().next().unwrap_or("");
        if lang == "text" && first.starts_with("-- ") && first.ends_with(".lig") {
            files.push((first[3..].to_owned(), body.to_owned()));
        } else if lang == "json" && json.is_none() {
            json = Some(serde_json::from_str(body).unwrap());
        }
    }
    (
        files,
        json.expect("the README shows the output as a json block"),
    )
}

#[test]
fn the_readme_worked_example_evaluates_to_what_it_shows() {
    let (files, expected) = readme_example();
    assert_eq!(files.len(), 3, "{files:?}");
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    assert_eq!(json(&refs), expected);
    // The two errors it shows.
    let readme = include_str!("../../README.md");
    let broken: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.clone(), s.replace("(Tcp 6379)", "(Tcp 70000)")))
        .collect();
    let refs: Vec<(&str, &str)> = broken
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    let err = eval_both(&refs).unwrap_err().to_string();
    assert!(readme.contains(&format!("error: {err}")), "{err}");
    let broken: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.clone(), s.replace("0 services;", "0 services 1;")))
        .collect();
    let refs: Vec<(&str, &str)> = broken
        .iter()
        .map(|(p, s)| (p.as_str(), s.as_str()))
        .collect();
    let err = eval_both(&refs).unwrap_err().to_string();
    assert!(readme.contains(&format!("error: {err}")), "{err}");
}

#[test]
fn exporting_only_a_class_hides_the_rest() {
    let lib = "export typeclass Show 'a where show : 'a -> String;\ninstance Show Integer where show = \\n -> toString n;\nlet hidden = 1;";
    let files = [
        ("lib.lig", lib),
        ("main.lig", "import lib;\nlet a = show 2;"),
    ];
    assert_eq!(json(&files), serde_json::json!({"a": "2"}));
    let files = [
        ("lib.lig", lib),
        ("main.lig", "import lib;\nlet b = lib.hidden;"),
    ];
    let err = eval_both(&files).unwrap_err().to_string();
    assert!(
        err.contains("module `lib` does not export `hidden`"),
        "{err}"
    );
}

#[test]
fn selective_imports_bind_names_unqualified() {
    let strings = "export let concat = \\a b -> a ++ b;\nexport let parts = \\s -> split \",\" s;\nexport type Pair = { l: Integer, r: Integer };";
    let files = [
        ("std/string.lig", strings),
        ("util.lig", "export let twice = \\x -> x * 2;"),
        (
            "main.lig",
            "import \"std.string\" { concat, parts as pieces, Pair };\nimport { twice as dbl } from util;\nlet a = concat \"x\" \"y\";\nlet b = pieces \"p,q\";\nlet c = dbl 21;\nlet d: Pair = { l = 1, r = 2 };\nlet e = string.concat \"q\" \"r\";",
        ),
    ];
    assert_eq!(
        json(&files),
        serde_json::json!({"a": "xy", "b": ["p", "q"], "c": 42, "d": {"l": 1, "r": 2}, "e": "qr"})
    );
    for (main, expected) in [
        (
            "import \"std.string\" { nothere };",
            "module `string` does not export `nothere`",
        ),
        (
            "import \"std.string\" { concat };\nlet concat = 1;",
            "`concat` is both imported and defined",
        ),
        (
            "import \"std.string\" { Pair as P };",
            "a type or class cannot be renamed on import",
        ),
        (
            "import \"std.string\" { Missing };",
            "does not export a type or class `Missing`",
        ),
        (
            "import { concat } \"std.string\";",
            "expected `from` after the imported names",
        ),
    ] {
        let files = [("std/string.lig", strings), ("main.lig", main)];
        let err = eval_both(&files).unwrap_err().to_string();
        assert!(err.contains(expected), "{main}: {err}");
    }
    let src = "import lib.net as n { port, host as h };\nlet x = port;";
    let printed = format_source(src).unwrap();
    assert_eq!(
        printed,
        "import lib.net as n { port, host as h };\nlet x = port;\n"
    );
    assert_eq!(format_source(&printed).unwrap(), printed);
}

#[test]
fn deep_recursion_through_refined_functions_and_methods_meets_the_limit() {
    // Each of these calls puts more on the stack than a plain closure call; the
    // recursion limit must still come first (a stack overflow would abort the test).
    let refined = "type Port = Integer where x >= 1024;\nlet f: Integer -> Port = \\n -> if n == 0 then 1024 else f (n - 1);\nlet y = f 1000000;";
    let method = "typeclass Sz 'a where sz : 'a -> Integer;\ninstance Sz Integer where sz = \\n -> if n == 0 then 0 else 1 + sz (n - 1);\nlet y = sz 1000000;";
    let builtin = "let deep = \\n -> if n == 0 then [] else map (\\x -> x) (deep (n - 1));\nlet y = deep 1000000;";
    for src in [refined, method, builtin] {
        let err = eval_both(&[("main.lig", src)]).unwrap_err().to_string();
        assert!(err.contains("recursion limit of 20000"), "{src}: {err}");
    }
    // Within the limit they work.
    let ok = "type Port = Integer where x >= 1024;\nlet f: Integer -> Port = \\n -> if n == 0 then 1024 else f (n - 1);\nlet y = f 100;";
    assert_eq!(json(&[("main.lig", ok)]), serde_json::json!({"y": 1024}));
}

#[test]
fn text_of_a_value_with_shared_parts_is_bounded() {
    // Sixty doublings share their parts in memory; their text would be 2^60 long.
    let mut call = "1".to_owned();
    for _ in 0..60 {
        call = format!("d ({call})");
    }
    let prefix = format!("let d = \\x -> {{ a = x, b = x }};\nlet v = {call};\n");
    let engine = config_eval::Engine::new(config_eval::Config {
        max_value_size: 100_000,
        ..config_eval::Config::default()
    })
    .unwrap();
    for (tail, expected) in [
        ("let s = toString v;", "value too large in `s`"),
        ("let s = \"${v}\";", "value too large in `s`"),
        (
            "let s = match v { w when false => 1 };",
            "no arm of this `match` accepts { a = { a = { a = ",
        ),
    ] {
        let src = format!("{prefix}{tail}");
        let err = engine.eval_str(&src).unwrap_err().to_string();
        assert!(err.contains(expected), "{tail}: {err}");
        assert!(err.len() < 400, "{tail}: {} bytes", err.len());
    }
}
