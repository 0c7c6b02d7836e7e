//! Field reads on a value whose record type is not known yet.
//!
//! Without row polymorphism, `\s -> s.port` cannot be given a type on its own. Instead
//! of rejecting it, the checker records the read (the record's type variable, the
//! field, the result's type variable) and pins both variables to the outermost level,
//! so they are never generalised: the function stays monomorphic in them, and a later
//! use (`port_of { port = 80 }`) fixes the record type for every use. When the module's
//! bindings are checked, every recorded read must have found its record; one that has
//! not is the error asking for an annotation.

use super::{Checker, Node, Ty};
use crate::ast::Span;
use crate::error::Error;

/// Reads waiting for their record type: record, field, result, where.
#[derive(Default)]
pub(crate) struct FieldReads(Vec<(Ty, String, Ty, Span)>);

impl Checker<'_> {
    /// Keeps `t` out of generalisation if it is a variable.
    fn pin(&mut self, t: Ty) {
        let r = self.find(t);
        if let Node::Var(level) = *self.node(r) {
            if level != 0 {
                self.set(r, Node::Var(0));
            }
        }
    }

    /// The type of `target.field` where `target`'s type is still a variable.
    pub(super) fn defer_field(&mut self, target: Ty, field: &str, span: Span) -> Ty {
        let result = self.fresh();
        self.pin(target);
        self.pin(result);
        self.fields.0.push((target, field.to_owned(), result, span));
        result
    }

    /// Resolves the reads whose record type is now known; with `last`, a read still
    /// without one is an error.
    pub(super) fn resolve_fields(&mut self, last: bool) -> Result<(), Error> {
        let reads = std::mem::take(&mut self.fields.0);
        let mut waiting = Vec::new();
        for (target, field, result, span) in reads {
            let r = self.find(target);
            match self.node(r).clone() {
                Node::Record(fs) => match fs.binary_search_by(|(n, _)| n.as_str().cmp(&field)) {
                    Ok(i) => self.unify(fs[i].1, result, span)?,
                    Err(_) => {
                        let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
                        return self.error(
                            span,
                            format!(
                                "record has no field `{field}` (it has: {})",
                                names.join(", ")
                            ),
                        );
                    }
                },
                Node::Var(_) if !last => waiting.push((target, field, result, span)),
                Node::Var(_) => {
                    return self.error(
                        span,
                        format!("cannot tell which record `.{field}` reads; annotate the parameter, e.g. `\\(r : {{ {field}: Integer }}) -> ...`"),
                    );
                }
                _ => {
                    let shown = self.show(r);
                    return self.error(
                        span,
                        format!("`.{field}` on a value of type {shown}, which is not a record"),
                    );
                }
            }
        }
        self.fields.0 = waiting;
        Ok(())
    }
}
