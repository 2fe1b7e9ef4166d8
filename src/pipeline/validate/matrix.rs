//! A job's `matrix` table → `Matrix`: its shape first (axes of values,
//! `include` and `exclude` as lists of tables), then whether it expands
//! into instances that can run.

use super::super::error::Problem;
use super::super::file::RawMatrix;
use super::super::matrix::{Combination, Flaw, Matrix};
use super::Validator;
use toml::Spanned;

impl Validator<'_> {
    /// The matrix as written, when it has the shape of one.
    pub(super) fn matrix(&mut self, raw: &RawMatrix) -> Option<Matrix> {
        let mut matrix = Matrix::default();
        let mut ok = true;
        for (key, value) in raw.get_ref() {
            match key.as_str() {
                "include" | "exclude" => match self.combinations(value) {
                    Some(list) if key == "include" => matrix.include = list,
                    Some(list) => matrix.exclude = list,
                    None => ok = false,
                },
                _ => {
                    let values = value
                        .get_ref()
                        .as_array()
                        .map(|items| items.iter().map(scalar).collect::<Option<Vec<String>>>());
                    match values {
                        Some(Some(values)) if !values.is_empty() => {
                            matrix.axes.push((key.clone(), values))
                        }
                        _ => {
                            ok = false;
                            self.problem(
                                value.span(),
                                format!("matrix axis `{key}` must be a non-empty list of values"),
                                "expected a list like [\"a\", \"b\"]",
                            );
                        }
                    }
                }
            }
        }
        if matrix.axes.is_empty() && matrix.include.is_empty() {
            self.problem(raw.span(), "empty matrix", "no axis and no `include`");
            return None;
        }
        ok.then_some(matrix)
    }

    /// Whether `matrix`, of job `job`, expands into instances that can run:
    /// excludes name axes, and every instance has a name of its own.
    pub(super) fn matrix_runs(&mut self, job: &str, raw: &RawMatrix, matrix: &Matrix) -> bool {
        let at = |key: &str| raw.get_ref().get(key).map_or(raw.span(), |v| v.span());
        for exclude in &matrix.exclude {
            if let Some(key) = exclude
                .keys()
                .find(|k| !matrix.axes.iter().any(|(a, _)| a == *k))
            {
                self.problem(
                    at("exclude"),
                    format!("`exclude` names `{key}`, which is not a matrix axis"),
                    "excludes match axis values",
                );
                return false;
            }
        }
        let flaw = matrix.flaw();
        let runs = flaw.is_none();
        match flaw {
            Some(Flaw::Repeated { axis, value }) => self.problem(
                at(axis),
                format!("matrix axis `{axis}` lists `{value}` twice"),
                "each value once",
            ),
            Some(Flaw::Empty) => self.push(
                Problem::new(
                    self.src,
                    at("exclude"),
                    format!("the matrix of `{job}` has no instance left"),
                    "`exclude` removes every one",
                )
                .with_help("the job would never run: remove it, or exclude less"),
            ),
            Some(Flaw::Alike(label)) => self.push(
                Problem::new(
                    self.src,
                    at("include"),
                    format!("the matrix makes two instances named `{job} ({label})`"),
                    "two instances, one name",
                )
                .with_help(
                    "they would share a log, a cache key and a `--job` name: \
                     list each `include` entry once, and keep `, ` and `=` out of values",
                ),
            ),
            None => {}
        }
        runs
    }

    fn combinations(&mut self, value: &Spanned<toml::Value>) -> Option<Vec<Combination>> {
        let list = value.get_ref().as_array().and_then(|items| {
            items
                .iter()
                .map(|item| {
                    item.as_table()?
                        .iter()
                        .map(|(k, v)| Some((k.clone(), scalar(v)?)))
                        .collect::<Option<Combination>>()
                })
                .collect::<Option<Vec<Combination>>>()
        });
        if list.is_none() {
            self.problem(
                value.span(),
                "`include` and `exclude` must be lists of tables of values",
                "expected [{ key = \"value\" }, …]",
            );
        }
        list
    }
}

/// A matrix value as text: `1` and `"1"` are one value.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}
