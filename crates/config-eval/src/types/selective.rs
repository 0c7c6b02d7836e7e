//! Selective imports in the checker: `import lib { a, b as c, T };` makes the values
//! `a` and `c` (that is, `lib.a` and `lib.b`) usable unqualified; a capitalised name
//! must be a type or class the module exports (they come into scope unqualified
//! anyway, so it is only checked).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Checker, ModuleTypes, Ty};
use crate::ast::*;
use crate::error::Error;

/// Unqualified names of selective imports: local name to (import alias, name).
#[derive(Default)]
pub(crate) struct SelectedNames(HashMap<String, (String, String)>);

impl Checker<'_> {
    /// Checks the selected names against what their modules export.
    pub(super) fn declare_selected(
        &mut self,
        m: &Module,
        imports: &[(String, Span, Arc<ModuleTypes>)],
    ) -> Result<(), Error> {
        for s in &m.selected {
            let Some((_, _, t)) = imports.iter().find(|(a, _, _)| *a == s.import) else {
                continue;
            };
            let capital = s.name.chars().next().is_some_and(char::is_uppercase);
            if capital {
                if s.local != s.name {
                    return self.error(s.span, "a type or class cannot be renamed on import");
                }
                if !t.types.contains_key(&s.name) && !t.classes.contains_key(&s.name) {
                    return self.error(
                        s.span,
                        format!(
                            "module `{}` does not export a type or class `{}`",
                            s.import, s.name
                        ),
                    );
                }
                continue;
            }
            if !t.values.contains_key(&s.name) {
                return self.error(
                    s.span,
                    format!("module `{}` does not export `{}`", s.import, s.name),
                );
            }
            if m.lets.iter().any(|l| l.name == s.local) {
                return self.error(
                    s.span,
                    format!("`{}` is both imported and defined in this module", s.local),
                );
            }
            if self
                .selected
                .0
                .insert(s.local.clone(), (s.import.clone(), s.name.clone()))
                .is_some()
            {
                return self.error(s.span, format!("`{}` is imported twice", s.local));
            }
        }
        Ok(())
    }

    /// The type of a use of a selectively imported value, if `name` is one.
    pub(super) fn selected_type(&mut self, name: &str) -> Result<Option<Ty>, Error> {
        let Some((alias, original)) = self.selected.0.get(name).cloned() else {
            return Ok(None);
        };
        let scheme = self
            .imports
            .get(&alias)
            .and_then(|t| t.values.get(&original).cloned());
        match scheme {
            Some(s) => self.instantiate_scheme(&s).map(Some),
            None => Ok(None),
        }
    }
}
