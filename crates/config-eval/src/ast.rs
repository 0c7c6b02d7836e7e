//! The syntax tree produced by the parser.
//!
//! Spans are carried for error messages only: [`Span`] hashes to nothing and compares
//! equal to every other span, so the derived `Hash` and `PartialEq` of the tree are
//! structural. That is what the caches key on (reformatting a file keeps its key) and
//! what the printer round-trip test compares.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    /// 1-based line.
    pub(crate) line: u32,
    /// 1-based column, counted in characters.
    pub(crate) col: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}
impl Eq for Span {}
impl Hash for Span {
    fn hash<H: Hasher>(&self, _state: &mut H) {}
}

/// A float that hashes and compares by its bits, so the tree can derive `Hash`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloatLit(pub(crate) f64);
impl PartialEq for FloatLit {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for FloatLit {}
impl Hash for FloatLit {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// One parsed source file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Module {
    pub(crate) name: Option<String>,
    pub(crate) imports: Vec<Import>,
    pub(crate) types: Vec<TypeDecl>,
    pub(crate) lets: Vec<Arc<LetDecl>>,
    /// `typeclass` declarations.
    pub(crate) classes: Vec<ClassDecl>,
    /// `instance` declarations.
    pub(crate) instances: Vec<InstanceDecl>,
    /// Names imported unqualified: `import lib { a, b as c };`.
    pub(crate) selected: Vec<Selected>,
}

/// One name of a selective import: `name` of the import bound to `alias`, known here
/// as `local`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Selected {
    pub(crate) import: String,
    pub(crate) name: String,
    pub(crate) local: String,
    pub(crate) span: Span,
}

/// `typeclass Eq 'a where eq : 'a -> 'a -> Bool;`: one class over one type variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClassDecl {
    pub(crate) name: String,
    pub(crate) param: String,
    /// Method names and signatures, in declaration order.
    pub(crate) methods: Vec<(String, TypeExpr)>,
    pub(crate) exported: bool,
    pub(crate) span: Span,
}

/// `instance Eq Integer where eq = \x y -> x == y;`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct InstanceDecl {
    pub(crate) class: String,
    /// The instance's type (a built-in, a union or an alias of a record).
    pub(crate) ty: TypeExpr,
    /// Method implementations, in declaration order.
    pub(crate) methods: Vec<(String, Expr)>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ImportPath {
    /// `import a.b.c;` names `a/b/c.lig` under the root.
    Dotted(Vec<String>),
    /// `import "a/b.lig" as b;` names a file relative to the root.
    File(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Import {
    pub(crate) path: ImportPath,
    pub(crate) alias: String,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LetDecl {
    pub(crate) name: String,
    pub(crate) ann: Option<TypeExpr>,
    pub(crate) value: Expr,
    pub(crate) exported: bool,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TypeDecl {
    pub(crate) name: String,
    pub(crate) params: Vec<String>,
    pub(crate) body: TypeBody,
    pub(crate) exported: bool,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TypeBody {
    Alias(TypeExpr),
    Union(Vec<Variant>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Variant {
    pub(crate) name: String,
    pub(crate) payload: Option<TypeExpr>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum TypeExpr {
    /// `Integer`, `List T`, `Option 'T`, a user alias or union, with arguments.
    Named(String, Vec<TypeExpr>, Span),
    /// `'T`.
    Var(String),
    /// `{ a: T, b: U }`.
    Record(Vec<(String, TypeExpr)>),
    /// `T -> U`.
    Fun(Box<TypeExpr>, Box<TypeExpr>),
    /// `T where pred`: `pred` has type `T -> Bool` and is checked at evaluation.
    Refine(Box<TypeExpr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    /// `a & b`: record merge, `b`'s fields win.
    Merge,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Concat => "++",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Merge => "&",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum UnOp {
    Neg,
    Not,
}

/// A one-parameter lambda; `\x y -> e` is parsed as `\x -> \y -> e`. Shared behind an
/// `Arc` so closures can hold their code without borrowing the tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Lambda {
    pub(crate) param: String,
    pub(crate) ann: Option<TypeExpr>,
    pub(crate) body: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ExprKind {
    Unit,
    Bool(bool),
    Int(i64),
    Float(FloatLit),
    Str(String),
    Var(String),
    Ctor(String),
    List(Vec<Expr>),
    Record(Vec<(String, Expr)>),
    Field(Box<Expr>, String),
    Lambda(Arc<Lambda>),
    App(Box<Expr>, Box<Expr>),
    Let(String, Option<TypeExpr>, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Match(Box<Expr>, Vec<Arm>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    /// `"a ${e} b"`: the parts in order; string literals and interpolated expressions.
    Interp(Vec<Expr>),
    /// `{ r | a = 1 }`: `r` with some fields replaced.
    Update(Box<Expr>, Vec<(String, Expr)>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Arm {
    pub(crate) pat: Pattern,
    pub(crate) guard: Option<Expr>,
    pub(crate) body: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Pattern {
    Wildcard,
    Var(String),
    Unit,
    Bool(bool),
    Int(i64),
    Str(String),
    Ctor(String, Option<Box<Pattern>>, Span),
    Record(Vec<(String, Pattern)>, Span),
    List(Vec<Pattern>),
    /// `[a, b, ...rest]`: at least the listed items, the rest bound to a list.
    ListRest(Vec<Pattern>, Box<Pattern>),
}
