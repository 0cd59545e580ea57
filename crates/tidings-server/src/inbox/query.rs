//! A small builder for queries whose filters depend on the request, with `$N` placeholders
//! numbered as they are added, bound the same way on both engines.

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bool(bool),
}

/// Conditions joined with `AND`, and their arguments.
#[derive(Debug, Default, Clone)]
pub struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// The placeholder the next argument will take.
    pub fn next(&self) -> String {
        format!("${}", self.args.len() + 1)
    }

    /// Adds a condition using one argument; `{}` in `clause` is replaced by its placeholder.
    pub fn push(&mut self, clause: &str, arg: Arg) {
        let placeholder = self.next();
        self.clauses.push(clause.replace("{}", &placeholder));
        self.args.push(arg);
    }

    /// Adds a condition without arguments.
    pub fn push_plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// Adds an argument and returns its placeholder, for clauses built by the caller.
    pub fn arg(&mut self, arg: Arg) -> String {
        let placeholder = self.next();
        self.args.push(arg);
        placeholder
    }

    /// `WHERE a AND b …` (or nothing).
    pub fn where_sql(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!("WHERE {}", self.clauses.join(" AND ")) }
    }

    /// The arguments in placeholder order.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }
}

/// `$first, $first+1, …`: `count` placeholders for an `IN (…)` list.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Binds `args` to a query built with `sqlx::query_as` / `query_scalar` for either engine.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                $crate::inbox::query::Arg::Text(v) => query.bind(v.clone()),
                $crate::inbox::query::Arg::OptText(v) => query.bind(v.clone()),
                $crate::inbox::query::Arg::Int(v) => query.bind(*v),
                $crate::inbox::query::Arg::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

pub(crate) use bind_args;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut conditions = Conditions::default();
        conditions.push("a = {}", Arg::Int(1));
        conditions.push_plain("b IS NULL");
        conditions.push("c >= {}", Arg::Text("x".into()));
        assert_eq!(conditions.where_sql(), "WHERE a = $1 AND b IS NULL AND c >= $2");
        assert_eq!(conditions.args().len(), 2);
    }
}
