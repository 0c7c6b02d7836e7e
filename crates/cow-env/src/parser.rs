//! The S-expression reader: text to atoms, with line and column in every error.

use crate::{Atom, Error};

/// One top-level form of a program.
#[derive(Debug, Clone, PartialEq)]
pub struct TopLevel {
    /// Whether the form was written `!form` (evaluate it) rather than `form` (add it to
    /// the space).
    pub bang: bool,
    /// The form.
    pub atom: Atom,
    /// 1-based line where the form starts.
    pub line: usize,
}

/// Parses a whole program: a sequence of top-level forms, each optionally preceded by
/// `!`. Comments run from `;` to the end of the line.
///
/// ```
/// let forms = cow_env::parse_program("(= (double $x) (* $x 2))\n!(double 21)").unwrap();
/// assert_eq!(forms.len(), 2);
/// assert!(forms[1].bang);
/// assert_eq!(forms[1].line, 2);
/// ```
pub fn parse_program(text: &str) -> Result<Vec<TopLevel>, Error> {
    let mut reader = Reader::new(text);
    let mut forms = Vec::new();
    loop {
        reader.skip_blank();
        let Some(c) = reader.peek() else { break };
        let line = reader.line;
        let bang = c == '!';
        if bang {
            reader.bump();
            reader.skip_blank();
            if reader.peek().is_none() {
                return Err(reader.error_here("`!` must be followed by an atom"));
            }
        }
        let atom = reader.atom(0)?;
        forms.push(TopLevel { bang, atom, line });
    }
    Ok(forms)
}

/// Parses exactly one atom (surrounding blanks and comments allowed).
///
/// ```
/// use cow_env::{parse_atom, Atom};
/// assert_eq!(parse_atom("(+ 1 2.5)").unwrap().to_string(), "(+ 1 2.5)");
/// assert!(parse_atom("(+ 1").is_err());
/// ```
pub fn parse_atom(text: &str) -> Result<Atom, Error> {
    let mut reader = Reader::new(text);
    reader.skip_blank();
    if reader.peek().is_none() {
        return Err(reader.error_here("expected an atom, found the end of the input"));
    }
    let atom = reader.atom(0)?;
    reader.skip_blank();
    if reader.peek().is_some() {
        return Err(reader.error_here("unexpected text after the atom"));
    }
    Ok(atom)
}

/// Nesting limit of the reader, so that `((((...` cannot overflow the stack.
const MAX_NESTING: usize = 1_000;

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error_at(line: usize, column: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            line,
            column,
            message: message.into(),
        }
    }

    fn error_here(&self, message: impl Into<String>) -> Error {
        Self::error_at(self.line, self.column, message)
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == ';' {
                while let Some(c) = self.bump() {
                    if c == '\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn atom(&mut self, depth: usize) -> Result<Atom, Error> {
        let (line, column) = (self.line, self.column);
        match self.peek() {
            None => Err(self.error_here("expected an atom, found the end of the input")),
            Some('(') => {
                if depth >= MAX_NESTING {
                    return Err(self.error_here(format!(
                        "expressions nested deeper than {MAX_NESTING} levels"
                    )));
                }
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_blank();
                    match self.peek() {
                        None => {
                            return Err(Self::error_at(line, column, "this `(` is never closed"))
                        }
                        Some(')') => {
                            self.bump();
                            return Ok(Atom::expr(items));
                        }
                        Some(_) => items.push(self.atom(depth + 1)?),
                    }
                }
            }
            Some(')') => Err(self.error_here("unexpected `)` without a matching `(`")),
            Some('"') => self.string(line, column),
            Some(_) => self.word(line, column),
        }
    }

    fn string(&mut self, line: usize, column: usize) -> Result<Atom, Error> {
        self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(Self::error_at(line, column, "this string is never closed")),
                Some('"') => return Ok(Atom::string(&text)),
                Some('\\') => {
                    let (l, c) = (self.line, self.column);
                    match self.bump() {
                        Some('n') => text.push('\n'),
                        Some('t') => text.push('\t'),
                        Some('\\') => text.push('\\'),
                        Some('"') => text.push('"'),
                        Some(other) => {
                            return Err(Self::error_at(l, c, format!("unknown escape `\\{other}`")))
                        }
                        None => {
                            return Err(Self::error_at(line, column, "this string is never closed"))
                        }
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn word(&mut self, line: usize, column: usize) -> Result<Atom, Error> {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '(' || c == ')' || c == ';' || c == '"' {
                break;
            }
            word.push(c);
            self.bump();
        }
        if let Some(name) = word.strip_prefix('$') {
            if name.is_empty() {
                return Err(Self::error_at(
                    line,
                    column,
                    "a variable needs a name after `$`",
                ));
            }
            return Ok(Atom::var(name));
        }
        Ok(classify_word(&word))
    }
}

/// A bare word is an integer if it parses as one, a float if it looks numeric and
/// parses as one, and a symbol otherwise (so `+`, `-`, `inf` and `1+` are symbols).
fn classify_word(word: &str) -> Atom {
    if let Ok(i) = word.parse::<i64>() {
        return Atom::Int(i);
    }
    let body = word.strip_prefix(['-', '+']).unwrap_or(word);
    let numeric_start = body.starts_with(|c: char| c.is_ascii_digit());
    if numeric_start
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
    {
        if let Ok(x) = word.parse::<f64>() {
            return Atom::Float(x);
        }
    }
    Atom::sym(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, usize, String) {
        match parse_program(text) {
            Err(Error::Parse {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_kind_of_atom() {
        let atom = parse_atom(r#"(f $x 12 -3 4.5 1e3 "s\"q" sym + -)"#).unwrap();
        let items = atom.as_expr().unwrap();
        assert_eq!(items[1], Atom::var("x"));
        assert_eq!(items[2], Atom::Int(12));
        assert_eq!(items[3], Atom::Int(-3));
        assert_eq!(items[4], Atom::Float(4.5));
        assert_eq!(items[5], Atom::Float(1000.0));
        assert_eq!(items[6], Atom::string("s\"q"));
        assert_eq!(items[7], Atom::sym("sym"));
        assert_eq!(items[8], Atom::sym("+"));
        assert_eq!(items[9], Atom::sym("-"));
    }

    #[test]
    fn printed_atoms_parse_back() {
        for text in ["(= (fib $n) (+ 1 2))", "(a \"b\\n\" 2.0 -7)", "()"] {
            let atom = parse_atom(text).unwrap();
            assert_eq!(parse_atom(&atom.to_string()).unwrap(), atom);
        }
    }

    #[test]
    fn errors_carry_line_and_column() {
        assert_eq!(err("(a b)\n  (c d").0, 2);
        assert_eq!(err("(a b)\n  (c d").1, 3);
        assert_eq!(err("a )").1, 3);
        assert!(err("\"abc").2.contains("never closed"));
        assert_eq!(err("(x $)").1, 4);
        assert!(err("!").2.contains("followed"));
        // Inside an expression `!` starts an ordinary symbol such as `!=`.
        assert!(parse_program("(a !b !=)").is_ok());
        assert!(err(r#""\q""#).2.contains("escape"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "(".repeat(5_000);
        assert!(err(&text).2.contains("nested deeper"));
    }

    #[test]
    fn comments_and_lines() {
        let forms = parse_program("; header\n(a)\n\n!(b) ; trailing\n").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!((forms[0].line, forms[0].bang), (2, false));
        assert_eq!((forms[1].line, forms[1].bang), (4, true));
    }
}
