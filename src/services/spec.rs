//! A service definition as the services module uses it: copied out of the
//! validated pipeline so pools and threads can own it, plus the dependency
//! order that start and stop follow.

use super::ServiceError;
use crate::pipeline::{Pipeline, Preset, Ready, ServiceKind};
use indexmap::IndexMap;

#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) name: String,
    pub(crate) kind: ServiceKind,
    pub(crate) port: Option<u16>,
    pub(crate) env: IndexMap<String, String>,
    pub(crate) needs: Vec<String>,
    pub(crate) ready: Option<Ready>,
    pub(crate) data_dir: Option<String>,
}

impl Spec {
    pub(crate) fn preset(&self) -> Option<Preset> {
        match self.kind {
            ServiceKind::Preset(p) => Some(p),
            _ => None,
        }
    }
}

/// Every service of the pipeline, in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Specs(pub(crate) IndexMap<String, Spec>);

impl Specs {
    pub(crate) fn of(pipeline: &Pipeline) -> Specs {
        Specs(
            pipeline
                .services
                .iter()
                .map(|(name, s)| {
                    let spec = Spec {
                        name: name.clone(),
                        kind: s.kind.clone(),
                        port: s.port,
                        env: s.env.clone(),
                        needs: s.needs.clone(),
                        ready: s.ready.clone(),
                        data_dir: s.data_dir.clone(),
                    };
                    (name.clone(), spec)
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Result<&Spec, ServiceError> {
        self.0.get(name).ok_or_else(|| ServiceError::Unknown {
            name: name.to_owned(),
            help: crate::pipeline::suggest(name, self.0.keys()).or_else(|| {
                Some(if self.0.is_empty() {
                    "the pipeline has no `[services.NAME]`".to_owned()
                } else {
                    format!("services in the pipeline: {}", self.names().join(", "))
                })
            }),
        })
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// `names` and everything they need, dependencies first. The pipeline was
    /// validated, so needs exist and have no cycle; unknown names are errors.
    pub(crate) fn closure(&self, names: &[String]) -> Result<Vec<String>, ServiceError> {
        let mut order = Vec::new();
        for name in names {
            self.visit(name, &mut order)?;
        }
        Ok(order)
    }

    fn visit(&self, name: &str, order: &mut Vec<String>) -> Result<(), ServiceError> {
        if order.iter().any(|n| n == name) {
            return Ok(());
        }
        let spec = self.get(name)?;
        for need in &spec.needs {
            self.visit(need, order)?;
        }
        order.push(name.to_owned());
        Ok(())
    }

    /// Splits a dependency-ordered list into waves: every service of a wave
    /// only needs services of earlier waves, so a wave starts all at once.
    pub(crate) fn waves(&self, ordered: &[String]) -> Vec<Vec<String>> {
        let mut level: IndexMap<&str, usize> = IndexMap::new();
        for name in ordered {
            let depth = self
                .0
                .get(name)
                .map(|s| {
                    s.needs
                        .iter()
                        .filter_map(|n| level.get(n.as_str()))
                        .map(|l| l + 1)
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            level.insert(name, depth);
        }
        let mut waves: Vec<Vec<String>> = Vec::new();
        for (name, depth) in level {
            if waves.len() <= depth {
                waves.resize(depth + 1, Vec::new());
            }
            waves[depth].push(name.to_owned());
        }
        waves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Specs {
        let pipeline = Pipeline::parse(
            std::path::Path::new("/repo/parity.toml"),
            r#"
version = 1
[services.db]
preset = "postgres"
[services.cache]
preset = "redis"
[services.api]
command = "api --port {{port}}"
needs = ["db", "cache"]
[services.worker]
command = "worker"
needs = ["api"]
[jobs.t]
run = "true"
"#
            .to_owned(),
        )
        .unwrap();
        Specs::of(&pipeline)
    }

    #[test]
    fn closure_puts_needs_first_and_waves_group_independent_ones() {
        let specs = specs();
        let order = specs.closure(&["worker".into()]).unwrap();
        assert_eq!(order, ["db", "cache", "api", "worker"]);
        assert_eq!(
            specs.waves(&order),
            vec![
                vec!["db".to_owned(), "cache".into()],
                vec!["api".into()],
                vec!["worker".into()]
            ]
        );
    }

    #[test]
    fn unknown_names_suggest() {
        let err = specs().closure(&["dv".into()]).unwrap_err();
        assert!(matches!(err, ServiceError::Unknown { help: Some(h), .. } if h.contains("db")));
    }

    #[test]
    fn an_unknown_name_without_services_says_there_are_none() {
        let err = Specs(IndexMap::new()).get("db").unwrap_err();
        assert!(
            matches!(&err, ServiceError::Unknown { help: Some(h), .. } if h == "the pipeline has no `[services.NAME]`"),
            "{err:?}"
        );
    }
}
