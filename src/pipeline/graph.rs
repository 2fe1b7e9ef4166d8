//! The job DAG after matrix expansion: one node per job instance.

use super::matrix::{instance_name, Combination};
use super::Pipeline;
use std::collections::HashMap;

/// One runnable job: a job, or one combination of a matrix job.
#[derive(Debug, Clone)]
pub struct Instance {
    /// `test (features=full)`, or the job name when there is no matrix.
    pub name: String,
    /// The `[jobs.NAME]` this instance comes from.
    pub job: String,
    pub matrix: Combination,
    /// Indices of the instances this one needs.
    pub needs: Vec<usize>,
}

#[derive(Debug)]
pub struct InstanceGraph {
    pub instances: Vec<Instance>,
}

impl InstanceGraph {
    pub(super) fn new(pipeline: &Pipeline) -> Self {
        let mut instances: Vec<Instance> = Vec::new();
        for job in pipeline.jobs.values() {
            let combos = match &job.matrix {
                Some(matrix) => matrix.expand(),
                None => vec![Combination::new()],
            };
            instances.extend(combos.into_iter().map(|matrix| Instance {
                name: instance_name(&job.name, &matrix),
                job: job.name.clone(),
                matrix,
                needs: Vec::new(),
            }));
        }
        let mut of_job: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, instance) in instances.iter().enumerate() {
            of_job.entry(&instance.job).or_default().push(i);
        }
        let needs: Vec<Vec<usize>> = instances
            .iter()
            .map(|instance| {
                let job = &pipeline.jobs[&instance.job];
                let mut needs: Vec<usize> = job
                    .needs
                    .iter()
                    .filter_map(|need| of_job.get(need.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                needs.sort_unstable();
                needs.dedup();
                needs
            })
            .collect();
        for (instance, needs) in instances.iter_mut().zip(needs) {
            instance.needs = needs;
        }
        InstanceGraph { instances }
    }

    /// Instances a command-line name refers to: all instances of a job, or
    /// one instance by its full name.
    pub fn lookup(&self, name: &str) -> Vec<usize> {
        let exact: Vec<usize> = self.indices(|i| i.name == name);
        if !exact.is_empty() {
            return exact;
        }
        self.indices(|i| i.job == name)
    }

    fn indices(&self, keep: impl Fn(&Instance) -> bool) -> Vec<usize> {
        self.instances
            .iter()
            .enumerate()
            .filter(|(_, i)| keep(i))
            .map(|(i, _)| i)
            .collect()
    }

    /// `roots` and everything they transitively need.
    pub fn closure(&self, roots: &[usize]) -> Vec<bool> {
        let mut selected = vec![false; self.instances.len()];
        let mut stack: Vec<usize> = roots.to_vec();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut selected[i], true) {
                continue;
            }
            stack.extend(&self.instances[i].needs);
        }
        selected
    }
}
