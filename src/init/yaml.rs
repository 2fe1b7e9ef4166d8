//! A workflow file as a plain tree with line numbers: saphyr's marked YAML
//! reduced to what the importer needs, so that every part it cannot
//! translate can be named by its line.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A scalar as text: numbers and booleans the way YAML resolves them
    /// (`3.10` is `3.1`, as in GitHub Actions); `null` and `~` are `None`.
    Scalar(Option<String>, usize),
    Seq(Vec<Node>, usize),
    Map(Vec<(String, Node)>, usize),
}

impl Node {
    /// The line (1-based) the node starts on.
    pub(crate) fn line(&self) -> usize {
        match self {
            Node::Scalar(_, line) | Node::Seq(_, line) | Node::Map(_, line) => *line,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar(Some(text), _) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries, _) => entries,
            _ => &[],
        }
    }

    pub(crate) fn items(&self) -> &[Node] {
        match self {
            Node::Seq(items, _) => items,
            _ => &[],
        }
    }

    /// A string or a list of strings, as `needs:` allows.
    pub(crate) fn strings(&self) -> Vec<String> {
        match self {
            Node::Scalar(Some(text), _) => vec![text.clone()],
            Node::Seq(items, _) => items
                .iter()
                .filter_map(|i| i.str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Parses the first document. Errors carry the line and column.
pub(crate) fn parse(text: &str) -> Result<Node, String> {
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| e.to_string())?;
    let first = docs
        .into_iter()
        .next()
        .ok_or_else(|| "the file holds no YAML document".to_owned())?;
    Ok(convert(&first))
}

fn convert(node: &MarkedYamlOwned) -> Node {
    let line = node.span.start.line();
    match &node.data {
        YamlDataOwned::Value(scalar) => Node::Scalar(scalar_text(scalar), line),
        YamlDataOwned::Representation(text, _, _) => Node::Scalar(Some(text.clone()), line),
        YamlDataOwned::Sequence(items) => Node::Seq(items.iter().map(convert).collect(), line),
        YamlDataOwned::Mapping(map) => Node::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = match convert(k) {
                        Node::Scalar(Some(text), _) => text,
                        Node::Scalar(None, _) => "null".to_owned(),
                        _ => String::new(),
                    };
                    // A block under a key is named by the key's line.
                    let value = match convert(v) {
                        Node::Map(entries, _) => Node::Map(entries, k.span.start.line()),
                        Node::Seq(items, _) => Node::Seq(items, k.span.start.line()),
                        scalar => scalar,
                    };
                    (key, value)
                })
                .collect(),
            line,
        ),
        YamlDataOwned::Tagged(_, inner) => convert(inner),
        YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => Node::Scalar(None, line),
    }
}

fn scalar_text(scalar: &ScalarOwned) -> Option<String> {
    match scalar {
        ScalarOwned::Null => None,
        ScalarOwned::Boolean(b) => Some(b.to_string()),
        ScalarOwned::Integer(i) => Some(i.to_string()),
        ScalarOwned::FloatingPoint(f) => Some(f.to_string()),
        ScalarOwned::String(s) => Some(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_values() {
        let node = parse(
            "on: push\njobs:\n  test:\n    steps:\n      - run: echo hi\n    matrix: [3.10, 12]\n",
        )
        .unwrap();
        let test = node.get("jobs").and_then(|j| j.get("test")).unwrap();
        let step = &test.get("steps").unwrap().items()[0];
        assert_eq!(step.get("run").and_then(Node::str), Some("echo hi"));
        assert_eq!(step.line(), 5);
        assert_eq!(test.get("matrix").unwrap().strings(), ["3.1", "12"]);
        assert_eq!(node.get("on").and_then(Node::str), Some("push"));
    }
}
