//! `{{name}}` placeholders in `run` lines, env values and service settings.
//!
//! Only `{{…}}` belongs to parity; `$VAR` and everything else stays the
//! shell's. Hand-written because the syntax is two tokens and the errors must
//! point at a byte offset inside the string, which template crates do not give.

use std::fmt;

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

/// Every placeholder in `template`, in order.
pub(crate) fn scan(template: &str) -> Result<Vec<Placeholder<'_>>, SyntaxError> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(open) = template[at..].find("{{").map(|i| at + i) {
        let Some(close) = template[open + 2..].find("}}").map(|i| open + 2 + i) else {
            return Err(SyntaxError {
                range: open..template.len(),
                message: "`{{` is never closed with `}}`",
            });
        };
        let name = template[open + 2..close].trim();
        if name.is_empty() {
            return Err(SyntaxError {
                range: open..close + 2,
                message: "empty placeholder",
            });
        }
        found.push(Placeholder {
            name,
            range: open..close + 2,
        });
        at = close + 2;
    }
    Ok(found)
}

/// A placeholder that had no value when the template was rendered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unresolved(pub(crate) String);

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}} has no value here", self.0)
    }
}

/// Replaces each placeholder `lookup` knows; returns the first it does not.
///
/// Templates were checked when the pipeline was loaded, so syntax errors
/// cannot reach this point; should one, the text is left as written.
pub(crate) fn render(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Unresolved> {
    let Ok(placeholders) = scan(template) else {
        return Ok(template.to_owned());
    };
    let mut out = String::with_capacity(template.len());
    let mut at = 0;
    for placeholder in placeholders {
        out.push_str(&template[at..placeholder.range.start]);
        let value = lookup(placeholder.name).ok_or_else(|| Unresolved(placeholder.name.into()))?;
        out.push_str(&value);
        at = placeholder.range.end;
    }
    out.push_str(&template[at..]);
    Ok(out)
}

/// Renders only the placeholders `lookup` knows, leaving the others in place
/// for a later stage (matrix values are known at plan time, service ports only
/// once the services are up).
pub(crate) fn render_partial(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let Ok(placeholders) = scan(template) else {
        return template.to_owned();
    };
    let mut out = String::with_capacity(template.len());
    let mut at = 0;
    for placeholder in placeholders {
        out.push_str(&template[at..placeholder.range.start]);
        match lookup(placeholder.name) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&template[placeholder.range.clone()]),
        }
        at = placeholder.range.end;
    }
    out.push_str(&template[at..]);
    out
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
}
