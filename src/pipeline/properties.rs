//! What holds for any pipeline a user writes, mistakes included: parsing
//! ends either in jobs whose instances each have a name of their own and
//! an order to run in, or in problems that point inside the file and
//! render. Pipelines are put together from the pieces users write (jobs,
//! `needs`, matrices with `include` and `exclude`), with values chosen so
//! that repeats, unknown names and cycles come up often.

use super::{Pipeline, PipelineError};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use proptest::prelude::*;
use std::collections::HashSet;
use std::path::Path;

/// A matrix value as TOML: `1` and `"1"` are one value to parity, and
/// `"x, k1=a"` spells part of another instance's name.
fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\"a\"",
        "\"b\"",
        "1",
        "\"1\"",
        "true",
        "\"x, k1=a\"",
        "\"\"",
    ])
}

/// `{ k1 = "a", … }`, for `include` and `exclude`.
fn table(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(keys), value()), 1..3).prop_map(|pairs| {
        let mut seen = HashSet::new();
        let pairs: Vec<String> = pairs
            .into_iter()
            .filter(|(key, _)| seen.insert(*key))
            .map(|(key, value)| format!("{key} = {value}"))
            .collect();
        format!("{{ {} }}", pairs.join(", "))
    })
}

fn matrix() -> impl Strategy<Value = String> {
    let axis = |key: &'static str| {
        prop::option::of(prop::collection::vec(value(), 1..4))
            .prop_map(move |values| values.map(|v| format!("{key} = [{}]", v.join(", "))))
    };
    let list = |name: &'static str, keys: &'static [&'static str]| {
        prop::collection::vec(table(keys), 0..3).prop_map(move |tables| {
            (!tables.is_empty()).then(|| format!("{name} = [{}]", tables.join(", ")))
        })
    };
    (
        axis("k1"),
        axis("k2"),
        list("include", &["k1", "k2", "k3"]),
        list("exclude", &["k1", "k2", "k9"]),
    )
        .prop_map(|(k1, k2, include, exclude)| {
            let parts: Vec<String> = [k1, k2, include, exclude].into_iter().flatten().collect();
            format!("matrix = {{ {} }}\n", parts.join(", "))
        })
}

fn job(index: usize) -> impl Strategy<Value = String> {
    let run = prop::sample::select(vec![
        "\"true\"",
        "[]",
        "[\"true\", \" \"]",
        "\"echo {{matrix.k1}}\"",
        "\"echo {{matrix.nope}}\"",
    ]);
    let needs = prop::collection::vec(prop::sample::select(vec!["j0", "j1", "j2", "jx"]), 0..3);
    (run, needs, prop::option::of(matrix())).prop_map(move |(run, needs, matrix)| {
        let needs: Vec<String> = needs.iter().map(|n| format!("\"{n}\"")).collect();
        format!(
            "[jobs.j{index}]\nrun = {run}\nneeds = [{}]\n{}",
            needs.join(", "),
            matrix.unwrap_or_default()
        )
    })
}

fn pipeline() -> impl Strategy<Value = String> {
    (1..4usize)
        .prop_flat_map(|jobs| (0..jobs).map(job).collect::<Vec<_>>())
        .prop_map(|jobs| format!("version = 1\n{}", jobs.join("")))
}

proptest! {
    #[test]
    fn any_pipeline_runs_in_order_or_says_where_it_is_wrong(text in pipeline()) {
        match Pipeline::parse(Path::new("/repo/parity.toml"), text.clone()) {
            Ok(pipeline) => {
                let graph = pipeline.instances();
                let mut names = HashSet::new();
                for (index, instance) in graph.instances.iter().enumerate() {
                    prop_assert!(names.insert(&instance.name), "two instances named {}", instance.name);
                    prop_assert_eq!(graph.lookup(&instance.name), vec![index]);
                }
                // Kahn: every instance comes after what it needs.
                let mut waiting: Vec<usize> = graph.instances.iter().map(|i| i.needs.len()).collect();
                let mut ready: Vec<usize> = (0..waiting.len()).filter(|&i| waiting[i] == 0).collect();
                let mut ordered = 0;
                while let Some(done) = ready.pop() {
                    ordered += 1;
                    for (index, instance) in graph.instances.iter().enumerate() {
                        if instance.needs.contains(&done) {
                            waiting[index] -= 1;
                            if waiting[index] == 0 {
                                ready.push(index);
                            }
                        }
                    }
                }
                prop_assert_eq!(ordered, graph.instances.len(), "a cycle got through");
            }
            Err(error) => {
                prop_assert!(matches!(error, PipelineError::Invalid { .. }), "{error:?}");
                for problem in error.related().into_iter().flatten() {
                    for label in problem.labels().into_iter().flatten() {
                        let (start, end) = (label.offset(), label.offset() + label.len());
                        prop_assert!(end <= text.len(), "{label:?} past the end of\n{text}");
                        prop_assert!(text.is_char_boundary(start) && text.is_char_boundary(end));
                    }
                }
                let mut rendered = String::new();
                GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
                    .render_report(&mut rendered, &error)
                    .map_err(|e| TestCaseError::fail(format!("cannot render: {e}")))?;
                prop_assert!(rendered.contains("parity.toml:"), "{rendered}");
            }
        }
    }
}
