//! A job's `matrix`: axes, `include` and `exclude`, expanded the way GitHub
//! Actions expands `strategy.matrix`, so a generated workflow and a local run
//! produce the same job instances.

use indexmap::IndexMap;

/// One combination of matrix values, in axis order.
pub type Combination = IndexMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matrix {
    /// Axis name and its values, in the order the file lists them.
    pub axes: Vec<(String, Vec<String>)>,
    pub include: Vec<Combination>,
    pub exclude: Vec<Combination>,
}

impl Matrix {
    /// Every key a `{{matrix.KEY}}` placeholder may name.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        let mut keys: Vec<&str> = self.axes.iter().map(|(k, _)| k.as_str()).collect();
        for extra in self.include.iter().flat_map(|c| c.keys()) {
            if !keys.contains(&extra.as_str()) {
                keys.push(extra);
            }
        }
        keys.into_iter()
    }

    /// The job instances this matrix produces.
    ///
    /// GitHub's rules: the cartesian product of the axes, minus every
    /// combination an `exclude` entry matches; then each `include` entry is
    /// merged into every combination whose original values it does not
    /// contradict, or added as a combination of its own when it fits none.
    pub fn expand(&self) -> Vec<Combination> {
        let mut combos: Vec<Combination> = vec![Combination::new()];
        for (axis, values) in &self.axes {
            combos = combos
                .into_iter()
                .flat_map(|combo| {
                    values.iter().map(move |value| {
                        let mut next = combo.clone();
                        next.insert(axis.clone(), value.clone());
                        next
                    })
                })
                .collect();
        }
        if self.axes.is_empty() {
            combos.clear();
        }
        combos.retain(|combo| !self.exclude.iter().any(|ex| matches(combo, ex)));

        let original_len = combos.len();
        for entry in &self.include {
            let mut merged = false;
            for combo in combos.iter_mut().take(original_len) {
                let contradicts = entry.iter().any(|(key, value)| {
                    self.is_axis(key) && combo.get(key).is_some_and(|v| v != value)
                });
                if !contradicts {
                    for (key, value) in entry {
                        combo.insert(key.clone(), value.clone());
                    }
                    merged = true;
                }
            }
            if !merged {
                combos.push(entry.clone());
            }
        }
        combos
    }

    fn is_axis(&self, key: &str) -> bool {
        self.axes.iter().any(|(axis, _)| axis == key)
    }

    /// What makes the matrix unfit to run, if anything: two instances with
    /// one name would run the same work twice and share a log, a cache key
    /// and a `--job` name; a matrix of no instance drops its job silently.
    pub(crate) fn flaw(&self) -> Option<Flaw<'_>> {
        for (axis, values) in &self.axes {
            if let Some(value) = first_repeat(values.iter().map(String::as_str)) {
                return Some(Flaw::Repeated { axis, value });
            }
        }
        let instances = self.expand();
        if instances.is_empty() {
            return Some(Flaw::Empty);
        }
        first_repeat(instances.iter().map(label)).map(Flaw::Alike)
    }
}

/// Why a matrix cannot run as written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flaw<'a> {
    /// An axis lists a value twice (`1` and `"1"` are one value).
    Repeated { axis: &'a str, value: &'a str },
    /// `exclude` removes every instance.
    Empty,
    /// Two instances come out with one name: `include` entries that add
    /// the same one, or values holding `, ` or `=`. Carries the name's
    /// `k=v` part.
    Alike(String),
}

fn first_repeat<T: Eq + std::hash::Hash>(items: impl IntoIterator<Item = T>) -> Option<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().find_map(|item| {
        if seen.contains(&item) {
            Some(item)
        } else {
            seen.insert(item);
            None
        }
    })
}

fn matches(combo: &Combination, pattern: &Combination) -> bool {
    pattern
        .iter()
        .all(|(key, value)| combo.get(key) == Some(value))
}

/// The display name of one instance: `test (features=full, os=linux)`.
pub fn instance_name(job: &str, combo: &Combination) -> String {
    if combo.is_empty() {
        return job.to_owned();
    }
    format!("{job} ({})", label(combo))
}

/// `features=full, os=linux`: what sets an instance's name apart.
fn label(combo: &Combination) -> String {
    let values: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
    values.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combo(pairs: &[(&str, &str)]) -> Combination {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn matrix(axes: &[(&str, &[&str])]) -> Matrix {
        Matrix {
            axes: axes
                .iter()
                .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
                .collect(),
            ..Matrix::default()
        }
    }

    #[test]
    fn cartesian_product_in_axis_order() {
        let m = matrix(&[("os", &["linux", "mac"]), ("v", &["1", "2"])]);
        let names: Vec<_> = m.expand().iter().map(|c| instance_name("t", c)).collect();
        assert_eq!(
            names,
            [
                "t (os=linux, v=1)",
                "t (os=linux, v=2)",
                "t (os=mac, v=1)",
                "t (os=mac, v=2)"
            ]
        );
    }

    #[test]
    fn exclude_then_include_as_github_does() {
        let mut m = matrix(&[("fruit", &["apple", "pear"]), ("animal", &["cat", "dog"])]);
        m.exclude = vec![combo(&[("fruit", "pear"), ("animal", "dog")])];
        m.include = vec![
            combo(&[("color", "green")]),
            combo(&[("fruit", "apple"), ("shape", "round")]),
            combo(&[("fruit", "banana")]),
        ];
        let expanded = m.expand();
        assert_eq!(expanded.len(), 4);
        assert_eq!(
            expanded[0],
            combo(&[
                ("fruit", "apple"),
                ("animal", "cat"),
                ("color", "green"),
                ("shape", "round")
            ])
        );
        assert_eq!(
            expanded[2],
            combo(&[("fruit", "pear"), ("animal", "cat"), ("color", "green")])
        );
        assert_eq!(expanded[3], combo(&[("fruit", "banana")]));
    }

    #[test]
    fn a_value_listed_twice_is_a_flaw() {
        let m = matrix(&[("os", &["linux"]), ("v", &["1", "2", "1"])]);
        assert_eq!(
            m.flaw(),
            Some(Flaw::Repeated {
                axis: "v",
                value: "1"
            })
        );
    }

    #[test]
    fn an_instance_included_twice_is_a_flaw() {
        let mut m = matrix(&[("os", &["linux"])]);
        m.include = vec![combo(&[("os", "mac")]), combo(&[("os", "mac")])];
        assert_eq!(m.flaw(), Some(Flaw::Alike("os=mac".into())));
    }

    #[test]
    fn values_that_spell_another_instance_are_a_flaw() {
        let m = matrix(&[("a", &["x, b=y", "x"]), ("b", &["y", "y, b=y"])]);
        assert_eq!(m.flaw(), Some(Flaw::Alike("a=x, b=y, b=y".into())));
    }

    #[test]
    fn includes_merged_into_instances_are_no_flaw() {
        let mut m = matrix(&[("os", &["linux", "mac"])]);
        m.include = vec![
            combo(&[("os", "linux"), ("extra", "1")]),
            combo(&[("os", "win")]),
        ];
        assert_eq!(m.flaw(), None);
    }

    #[test]
    fn excluding_every_instance_is_a_flaw() {
        let mut m = matrix(&[("os", &["linux", "mac"])]);
        m.exclude = vec![combo(&[("os", "linux")]), combo(&[("os", "mac")])];
        assert_eq!(m.flaw(), Some(Flaw::Empty));
    }

    #[test]
    fn include_only_matrix() {
        let m = Matrix {
            include: vec![combo(&[("v", "1")]), combo(&[("v", "2")])],
            ..Matrix::default()
        };
        assert_eq!(m.expand().len(), 2);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["v"]);
    }
}
