//! Modules and imports: resolution under a root, escapes, cycles, visibility, caching.

use std::fs;

use config_eval::{Config, Engine, Error};

use crate::eval_both;

#[test]
fn imports_bring_exports_types_and_constructors() {
    let files = [
        (
            "lib/net.lig",
            "module lib.net;\nexport type Option 'T = Some('T) | None;\nexport type Port = Integer where \\p -> p > 0;\nexport let defaultPort: Port = 80;\nexport let orElse = \\o d -> match o { Some(x) => x, None => d };\nlet secret = 1;",
        ),
        ("util.lig", "let double = \\x -> x * 2;"),
        (
            "main.lig",
            "import lib.net;\nimport \"util.lig\" as u;\nlet p: Port = net.orElse (Some(u.double net.defaultPort)) 1;\nlet q = net.orElse None 7;",
        ),
    ];
    let v = eval_both(&files).unwrap();
    assert_eq!(v.to_json().unwrap(), serde_json::json!({"p": 160, "q": 7}));
}

#[test]
fn unexported_names_are_not_visible() {
    let files = [
        ("a.lig", "export let x = 1;\nlet hidden = 2;"),
        ("main.lig", "import a;\nlet y = a.hidden;"),
    ];
    let err = eval_both(&files).unwrap_err();
    assert!(
        err.to_string()
            .contains("module `a` does not export `hidden`"),
        "{err}"
    );
}

#[test]
fn a_refinement_from_another_module_is_checked() {
    let files = [
        ("a.lig", "type Small = Integer where \\n -> n < 10;"),
        (
            "main.lig",
            "import a;\nlet ok: Small = 3;\nlet bad: Small = 30;",
        ),
    ];
    let err = eval_both(&files).unwrap_err();
    assert!(err.to_string().contains("30 does not satisfy"), "{err}");
}

#[test]
fn import_cycles_name_the_cycle() {
    let files = [
        ("main.lig", "import a;\nlet x = 1;"),
        ("a.lig", "import b;\nlet y = 1;"),
        ("b.lig", "import main;\nlet z = 1;"),
    ];
    let err = eval_both(&files).unwrap_err();
    assert_eq!(
        err,
        Error::ImportCycle {
            cycle: vec![
                "main.lig".into(),
                "a.lig".into(),
                "b.lig".into(),
                "main.lig".into()
            ]
        }
    );
    assert_eq!(
        err.to_string(),
        "import cycle: main.lig -> a.lig -> b.lig -> main.lig"
    );
}

#[test]
fn missing_imports_and_escapes_are_errors() {
    let err = eval_both(&[("main.lig", "import nothere;\nlet x = 1;")]).unwrap_err();
    assert_eq!(err.to_string(), "main.lig:1:1: import `nothere` not found");
    for bad in ["\"../secret.lig\"", "\"/etc/passwd\"", "\"a/../../x.lig\""] {
        let src = format!("import {bad} as s;\nlet x = 1;");
        let err = eval_both(&[("main.lig", &src)]).unwrap_err();
        assert!(matches!(err, Error::ImportEscape { .. }), "{bad}: {err}");
    }
}

#[test]
fn directory_resolver_stays_under_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(root.join("lib")).unwrap();
    fs::write(tmp.path().join("outside.lig"), "let leaked = 1;").unwrap();
    fs::write(root.join("lib/a.lig"), "let a = 41;").unwrap();
    fs::write(root.join("main.lig"), "import lib.a;\nlet b = a.a + 1;").unwrap();
    let e = Engine::new(Config::default()).unwrap();
    let v = e.eval(&e.load(&root.join("main.lig")).unwrap()).unwrap();
    assert_eq!(v.to_json().unwrap(), serde_json::json!({"b": 42}));

    fs::write(
        root.join("esc.lig"),
        "import \"../outside.lig\" as o;\nlet x = o.leaked;",
    )
    .unwrap();
    assert!(matches!(
        e.load(&root.join("esc.lig")),
        Err(Error::ImportEscape { .. })
    ));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(tmp.path().join("outside.lig"), root.join("link.lig")).unwrap();
        fs::write(root.join("sym.lig"), "import link;\nlet x = link.leaked;").unwrap();
        assert!(matches!(
            e.load(&root.join("sym.lig")),
            Err(Error::ImportEscape { .. })
        ));
    }
    assert!(matches!(
        e.load(&root.join("absent.lig")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn the_cache_serves_repeated_runs_and_counts() {
    let e = Engine::new(Config {
        cache_size: 64,
        ..Config::default()
    })
    .unwrap();
    let files = [
        ("a.lig", "let x = 1;"),
        ("main.lig", "import a;\nlet y = a.x + 1;"),
    ];
    let p = e.load_files(&files, "main.lig").unwrap();
    let first = e.eval(&p).unwrap();
    let before = e.stats().cache;
    let p2 = e.load_files(&files, "main.lig").unwrap();
    assert_eq!(e.eval(&p2).unwrap(), first);
    let after = e.stats().cache;
    assert!(after.parsed.hits >= before.parsed.hits + 2);
    assert!(after.typed.hits >= before.typed.hits + 2);
    assert!(after.values.hits >= before.values.hits + 2);
    // Reformatting does not change the semantic key of a module.
    let p3 = e
        .load_files(
            &[
                ("a.lig", "let   x =\n  1;  // same"),
                ("main.lig", "import a;\nlet y = a.x + 1;"),
            ],
            "main.lig",
        )
        .unwrap();
    let typed_hits = e.stats().cache.typed.hits;
    assert_eq!(e.eval(&p3).unwrap(), first);
    assert!(e.stats().cache.typed.hits >= typed_hits + 2);
}

#[test]
fn a_small_cache_evicts_and_counts_evictions() {
    let e = Engine::new(Config {
        cache_size: 2,
        ..Config::default()
    })
    .unwrap();
    for i in 0..50 {
        e.eval_str(&format!("let x = {i};")).unwrap();
    }
    let s = e.stats().cache.total();
    assert!(s.evictions > 0, "{s:?}");
    assert!(e.cache().len() <= 3 * 2 + 3, "{}", e.cache().len());
}

#[test]
fn parallel_reports_the_same_first_error_as_sequential() {
    // Two independent modules fail to check; the first in dependency order wins.
    let files = [
        ("a.lig", "let x = 1 + \"a\";"),
        ("b.lig", "let y = true && 1;"),
        ("c.lig", "import b;\nlet z = b.y;"),
        ("main.lig", "import c;\nimport a;\nlet w = 1;"),
    ];
    let err = eval_both(&files).unwrap_err();
    assert!(
        err.to_string().starts_with("b.lig:1:17: type error"),
        "{err}"
    );
    // The same for evaluation errors spread over modules.
    let files = [
        ("a.lig", "let ok = 1;\nlet bad = match 5 { 1 => 1 };"),
        ("b.lig", "let worse = 1 / 0;"),
        ("main.lig", "import b;\nimport a;\nlet w = a.ok;"),
    ];
    let err = eval_both(&files).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("b.lig:1:15: evaluation error in `worse`"),
        "{err}"
    );
}
