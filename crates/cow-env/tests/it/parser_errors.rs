//! Bad input gets a clear error with a position, never a panic or a hang.

use cow_env::{parse_atom, parse_program, Error};
use proptest::prelude::*;

fn position(text: &str) -> (usize, usize) {
    match parse_program(text) {
        Err(Error::Parse { line, column, .. }) => (line, column),
        other => panic!("expected a parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn unclosed_paren_points_at_the_open_paren() {
    assert_eq!(position("(a)\n(b\n  (c d)"), (2, 1));
}

#[test]
fn stray_close_paren_points_at_itself() {
    assert_eq!(position("(a b))"), (1, 6));
}

#[test]
fn unterminated_string_points_at_its_quote() {
    assert_eq!(position("(print\n   \"abc)"), (2, 4));
}

#[test]
fn lone_dollar_and_bang_are_errors() {
    assert_eq!(position("(f $ x)"), (1, 4));
    assert!(parse_program("!   ").is_err());
    assert!(parse_atom("").is_err());
    assert!(parse_atom("a b").is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any text either parses or yields a positioned error inside the text.
    #[test]
    fn arbitrary_text_never_panics(text in "[()a-z0-9 $\"!;\\\\\n.-]{0,60}") {
        match parse_program(&text) {
            Ok(_) => {}
            Err(Error::Parse { line, column, .. }) => {
                prop_assert!(line >= 1 && column >= 1);
                prop_assert!(line <= text.lines().count().max(1) + 1);
            }
            Err(other) => prop_assert!(false, "unexpected error kind {other:?}"),
        }
    }
}
