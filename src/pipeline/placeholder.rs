//! `{{name}}` placeholders in `run` lines, env values and service settings.
//!
//! Only `{{…}}` belongs to parity; `$VAR` and everything else stays the
//! shell's. `{{{{` is a literal `{{`, for the Go templates of `docker
//! --format`, `kubectl -o go-template` or `gh --template`. Hand-written
//! because the syntax is two tokens and the errors must point at a byte
//! offset inside the string, which template crates do not give.

use std::borrow::Cow;
use std::fmt;

/// What a literal `{{` is written as.
const ESCAPE: &str = "{{{{";

/// A placeholder found in a template, with its byte range in that template.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Placeholder<'a> {
    pub(crate) name: &'a str,
    pub(crate) range: std::ops::Range<usize>,
}

/// A template that cannot be read: `{{` without `}}`, or `{{}}`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) range: std::ops::Range<usize>,
    pub(crate) message: &'static str,
}

/// A piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Text(&'a str),
    /// `{{{{`: a literal `{{`.
    Escape,
    Placeholder(Placeholder<'a>),
}

/// The template cut into text, escapes and placeholders, in order.
fn tokens(template: &str) -> Result<Vec<Token<'_>>, SyntaxError> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(open) = template[at..].find("{{").map(|i| at + i) {
        if open > at {
            found.push(Token::Text(&template[at..open]));
        }
        if template[open..].starts_with(ESCAPE) {
            found.push(Token::Escape);
            at = open + ESCAPE.len();
            continue;
        }
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            return Err(SyntaxError {
                range: open..template.len(),
                message: "`{{` is never closed with `}}` (write `{{{{` for a literal `{{`)",
            });
        };
        let name = template[open + 2..close].trim();
        if name.is_empty() {
            return Err(SyntaxError {
                range: open..close + 2,
                message: "empty placeholder",
            });
        }
        found.push(Token::Placeholder(Placeholder {
            name,
            range: open..close + 2,
        }));
        at = close + 2;
    }
    if at < template.len() {
        found.push(Token::Text(&template[at..]));
    }
    Ok(found)
}

/// Every placeholder in `template`, in order.
pub(crate) fn scan(template: &str) -> Result<Vec<Placeholder<'_>>, SyntaxError> {
    Ok(tokens(template)?
        .into_iter()
        .filter_map(|token| match token {
            Token::Placeholder(p) => Some(p),
            _ => None,
        })
        .collect())
}

/// A placeholder that had no value when the template was rendered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unresolved(pub(crate) String);

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}} has no value here", self.0)
    }
}

/// Replaces each placeholder `lookup` knows and each escape with `{{`:
/// the text as it is used. Returns the first placeholder without a value.
///
/// Templates were checked when the pipeline was loaded, so syntax errors
/// cannot reach this point; should one, the text is left as written.
pub(crate) fn render(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Unresolved> {
    fill(template, lookup, Stage::Last)
}

/// Renders only the placeholders `lookup` knows, leaving the others and the
/// escapes in place for a later stage (matrix values are known at plan
/// time, service ports only once the services are up). The last stage is
/// [`render`], or [`render_known`] where unknown placeholders may stay.
pub(crate) fn render_partial(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    fill(template, lookup, Stage::Partial).unwrap_or_else(|_| template.to_owned())
}

/// The last stage where a placeholder nobody knows may stay as written
/// (a service's probe, which the shell may be meant to see): fills what
/// `lookup` knows and turns each escape into `{{`.
pub(crate) fn render_known(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    fill(template, lookup, Stage::Known).unwrap_or_else(|_| template.to_owned())
}

/// `text` written so that it renders to itself: each `{{` escaped.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if text.contains("{{") {
        Cow::Owned(text.replace("{{", ESCAPE))
    } else {
        Cow::Borrowed(text)
    }
}

/// Which rendering: what becomes of escapes and of placeholders without a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Escapes kept, unknown placeholders kept: another stage follows.
    Partial,
    /// Escapes become `{{`, unknown placeholders stay as written.
    Known,
    /// Escapes become `{{`, an unknown placeholder is an error.
    Last,
}

fn fill(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
    stage: Stage,
) -> Result<String, Unresolved> {
    let Ok(tokens) = tokens(template) else {
        return Ok(template.to_owned());
    };
    let mut out = String::with_capacity(template.len());
    for token in tokens {
        match token {
            Token::Text(text) => out.push_str(text),
            Token::Escape if stage == Stage::Partial => out.push_str(ESCAPE),
            Token::Escape => out.push_str("{{"),
            Token::Placeholder(p) => match lookup(p.name) {
                Some(value) => out.push_str(&value),
                None if stage == Stage::Last => return Err(Unresolved(p.name.into())),
                None => out.push_str(&template[p.range]),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_leaves_shell_variables() {
        let found = scan("echo $HOME {{matrix.os}} ${X} {{ port }}").unwrap();
        let names: Vec<_> = found.iter().map(|p| p.name).collect();
        assert_eq!(names, ["matrix.os", "port"]);
        assert_eq!(found[0].range, 11..24);
    }

    #[test]
    fn reports_unclosed_and_empty() {
        assert_eq!(scan("a {{b").unwrap_err().range, 2..5);
        assert_eq!(scan("a {{ }} b").unwrap_err().message, "empty placeholder");
    }

    #[test]
    fn renders_known_and_keeps_unknown_for_later() {
        let lookup = |name: &str| (name == "matrix.v").then(|| "3.12".to_owned());
        assert_eq!(
            render_partial("py{{matrix.v}} {{port}}", lookup),
            "py3.12 {{port}}"
        );
        assert_eq!(
            render("{{port}}", lookup),
            Err(Unresolved("port".to_owned()))
        );
    }

    #[test]
    fn four_braces_are_a_literal_pair_that_survives_every_stage() {
        let template = "docker ps --format '{{{{.Names}}' -p {{matrix.p}} {{port}}";
        assert_eq!(
            scan(template)
                .unwrap()
                .iter()
                .map(|p| p.name)
                .collect::<Vec<_>>(),
            ["matrix.p", "port"]
        );
        let matrix = |name: &str| (name == "matrix.p").then(|| "x".to_owned());
        let planned = render_partial(template, matrix);
        assert_eq!(planned, "docker ps --format '{{{{.Names}}' -p x {{port}}");
        let port = |name: &str| (name == "port").then(|| "5432".to_owned());
        assert_eq!(
            render(&planned, port).unwrap(),
            "docker ps --format '{{.Names}}' -p x 5432"
        );
        assert_eq!(
            render_known(&planned, |_| None),
            "docker ps --format '{{.Names}}' -p x {{port}}"
        );
    }

    #[test]
    fn escaping_round_trips_any_braces() {
        for text in ["{{", "{{{", "{{{{", "a {{.X}} b }}", "{{ json . }}{{"] {
            let escaped = escape(text);
            assert!(scan(&escaped).unwrap().is_empty(), "{escaped}");
            assert_eq!(render(&escaped, |_| None).unwrap(), text);
        }
    }

    #[test]
    fn an_unclosed_pair_says_how_to_write_a_literal_one() {
        assert!(scan("{{.Names").unwrap_err().message.contains("`{{{{`"));
    }
}
