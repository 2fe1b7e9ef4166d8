//! A small YAML writer for the files parity generates.
//!
//! Hand-written rather than serde_yaml because the generated files are read
//! by people: they need comments that say why a line is there, the block
//! style GitHub's own examples use (`- uses:` indented under `steps:`), and
//! byte-for-byte stable output so `parity check` can diff them. Serializers
//! drop comments and pick their own layout. Everything it writes is parsed
//! back in the tests, so quoting mistakes fail there.

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A string, quoted when YAML would read it as anything else.
    Str(String),
    /// Written as is: `true`, `20`, or an expression known to be plain.
    Raw(String),
    /// `key:` with nothing after it.
    Null,
    Seq(Vec<Node>),
    /// A short list on one line: `[a, b]`.
    Flow(Vec<String>),
    Map(Map),
}

/// A mapping that keeps its order, with optional comments and blank lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Map {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    key: String,
    value: Node,
    comment: Vec<String>,
    blank_before: bool,
}

impl Map {
    pub(crate) fn new() -> Map {
        Map::default()
    }

    /// Adds `key: value`.
    pub(crate) fn set(mut self, key: &str, value: impl Into<Node>) -> Map {
        self.push(key, value);
        self
    }

    pub(crate) fn push(&mut self, key: &str, value: impl Into<Node>) {
        self.entries.push(Entry {
            key: key.to_owned(),
            value: value.into(),
            comment: Vec::new(),
            blank_before: false,
        });
    }

    /// Puts `# text` lines above the last entry.
    pub(crate) fn comment(mut self, text: &str) -> Map {
        if let Some(last) = self.entries.last_mut() {
            last.comment.extend(text.lines().map(str::to_owned));
        }
        self
    }

    /// Puts an empty line above the last entry.
    pub(crate) fn spaced(mut self) -> Map {
        if let Some(last) = self.entries.last_mut() {
            last.blank_before = true;
        }
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<Map> for Node {
    fn from(map: Map) -> Node {
        Node::Map(map)
    }
}

impl From<&str> for Node {
    fn from(text: &str) -> Node {
        Node::Str(text.to_owned())
    }
}

impl From<String> for Node {
    fn from(text: String) -> Node {
        Node::Str(text)
    }
}

impl From<bool> for Node {
    fn from(value: bool) -> Node {
        Node::Raw(value.to_string())
    }
}

impl From<u64> for Node {
    fn from(value: u64) -> Node {
        Node::Raw(value.to_string())
    }
}

/// A matrix combination: one mapping of axis to value, in axis order.
impl From<&crate::pipeline::Combination> for Node {
    fn from(combo: &crate::pipeline::Combination) -> Node {
        let mut entry = Map::new();
        for (axis, value) in combo {
            entry.push(axis, value.as_str());
        }
        Node::Map(entry)
    }
}

impl From<Vec<Node>> for Node {
    fn from(items: Vec<Node>) -> Node {
        Node::Seq(items)
    }
}

/// Writes a document: a top-level mapping.
pub(crate) fn to_string(map: &Map) -> String {
    let mut out = String::new();
    write_map(map, 0, &mut out);
    out
}

fn write_map(map: &Map, indent: usize, out: &mut String) {
    for (i, entry) in map.entries.iter().enumerate() {
        if entry.blank_before && i > 0 {
            out.push('\n');
        }
        for line in &entry.comment {
            push_comment(line, indent, out);
        }
        pad(indent, out);
        write_entry(entry, indent, out);
    }
}

fn push_comment(line: &str, indent: usize, out: &mut String) {
    pad(indent, out);
    if line.is_empty() {
        out.push_str("#\n");
    } else {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
}

/// `key: value` with the cursor already indented.
fn write_entry(entry: &Entry, indent: usize, out: &mut String) {
    out.push_str(&key(&entry.key));
    out.push(':');
    write_value(&entry.value, indent, out);
}

/// The value after `key:`, nested values indented two more.
fn write_value(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Null => out.push('\n'),
        Node::Map(map) if map.entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(map) => {
            out.push('\n');
            write_map(map, indent + 2, out);
        }
        Node::Seq(items) => {
            out.push('\n');
            write_seq(items, indent + 2, out);
        }
        scalar => {
            out.push(' ');
            write_scalar(scalar, indent + 2, out);
        }
    }
}

fn write_seq(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        match item {
            Node::Map(map) if !map.entries.is_empty() => {
                // Comments of the first entry go above the dash.
                for line in &map.entries[0].comment {
                    push_comment(line, indent, out);
                }
                pad(indent, out);
                out.push_str("- ");
                write_entry(&map.entries[0], indent + 2, out);
                let rest = Map {
                    entries: map.entries[1..].to_vec(),
                };
                write_map(&rest, indent + 2, out);
            }
            Node::Seq(inner) if !inner.is_empty() => {
                pad(indent, out);
                out.push('-');
                out.push('\n');
                write_seq(inner, indent + 2, out);
            }
            other => {
                pad(indent, out);
                out.push('-');
                write_value(other, indent, out);
            }
        }
    }
}

/// A scalar after `key: ` or `- `; `indent` is where a block body would go.
fn write_scalar(value: &Node, indent: usize, out: &mut String) {
    match value {
        Node::Raw(text) => {
            out.push_str(text);
            out.push('\n');
        }
        Node::Str(text) if is_block(text) => {
            out.push_str(if text.ends_with('\n') { "|\n" } else { "|-\n" });
            for line in text.lines() {
                if !line.is_empty() {
                    pad(indent, out);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        Node::Str(text) => {
            out.push_str(&scalar(text, false));
            out.push('\n');
        }
        Node::Flow(items) => {
            let items: Vec<String> = items.iter().map(|i| scalar(i, true)).collect();
            out.push('[');
            out.push_str(&items.join(", "));
            out.push_str("]\n");
        }
        Node::Null | Node::Seq(_) | Node::Map(_) => out.push('\n'),
    }
}

/// Multi-line text that a literal block keeps exactly: no trailing spaces,
/// no tabs or carriage returns, at most one final newline, no leading
/// spaces on the first line (the indentation would be misread).
fn is_block(text: &str) -> bool {
    text.trim_end_matches('\n').contains('\n')
        && !text.ends_with("\n\n")
        && !text.starts_with([' ', '\n'])
        && !text.contains(['\t', '\r'])
        && text.lines().all(|l| !l.ends_with(' '))
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn key(text: &str) -> String {
    // `on` is what GitHub's workflow syntax calls its trigger key.
    if text == "on" || (is_identifier(text) && !reserved(text)) {
        text.to_owned()
    } else {
        quote(text)
    }
}

fn is_identifier(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Words YAML 1.1 or 1.2 read as something other than a string.
fn reserved(text: &str) -> bool {
    const WORDS: [&str; 13] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", ".inf", ".nan", "nan",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(text))
}

/// A string as a YAML scalar: plain when nothing could misread it,
/// otherwise double-quoted. `in_flow` also quotes `,[]{}`.
pub(crate) fn scalar(text: &str, in_flow: bool) -> String {
    if is_plain(text, in_flow) {
        text.to_owned()
    } else {
        quote(text)
    }
}

fn is_plain(text: &str, in_flow: bool) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let looks_numeric = first.is_ascii_digit() || matches!(first, '+' | '.');
    !(indicator
        || looks_numeric
        || reserved(text)
        || text.starts_with(' ')
        || text.ends_with([' ', ':'])
        || text.contains(": ")
        || text.contains(" #")
        || text.chars().any(|c| c.is_control())
        || (in_flow && text.contains([',', '[', ']', '{', '}'])))
}

fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_yaml_would_misread() {
        for plain in [
            "ubuntu-latest",
            "actions/checkout@v4",
            "${{ matrix.os }}",
            "cargo test --features x",
            "a'b",
        ] {
            assert_eq!(scalar(plain, false), plain);
        }
        for quoted in [
            "", "3.12", "true", "No", "on", "- x", "a: b", "a #b", "*x", "!x", "x:", "  x", "12",
        ] {
            assert!(scalar(quoted, false).starts_with('"'), "{quoted:?}");
        }
        assert_eq!(scalar("a,b", true), "\"a,b\"");
        assert_eq!(quote("say \"hi\"\\\n"), r#""say \"hi\"\\\n""#);
    }

    #[test]
    fn block_layout_with_comments() {
        let doc = Map::new()
            .set("name", "ci")
            .comment("generated")
            .set(
                "on",
                Map::new()
                    .set("push", Node::Null)
                    .set("pull_request", Map::new()),
            )
            .spaced()
            .set(
                "steps",
                vec![
                    Map::new().set("uses", "actions/checkout@v4").into(),
                    Map::new()
                        .set("name", "many")
                        .set("run", "one\ntwo\n")
                        .set("with", Map::new().set("v", "1.0"))
                        .into(),
                    Node::Str("plain".into()),
                ],
            )
            .set(
                "list",
                Node::Flow(vec!["a".into(), "b c".into(), "x,y".into()]),
            );
        assert_eq!(
            to_string(&doc),
            "# generated\nname: ci\n\non:\n  push:\n  pull_request: {}\nsteps:\n  - uses: actions/checkout@v4\n  - name: many\n    run: |\n      one\n      two\n    with:\n      v: \"1.0\"\n  - plain\nlist: [a, b c, \"x,y\"]\n"
        );
    }
}
