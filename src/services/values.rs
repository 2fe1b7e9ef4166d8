//! What a started service hands to others: host, port, data dir and URL, as
//! `{{…}}` placeholders and as `NAME_HOST`/`NAME_PORT`/`NAME_URL` variables.

use crate::pipeline::placeholder::{render, Unresolved};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Values {
    pub host: String,
    pub port: u16,
    pub url: String,
    pub data_dir: PathBuf,
}

impl Values {
    /// `{{host}}`, `{{port}}`, `{{url}}`, `{{data_dir}}`.
    pub(crate) fn field(&self, field: &str) -> Option<String> {
        match field {
            "host" => Some(self.host.clone()),
            "port" => Some(self.port.to_string()),
            "url" => Some(self.url.clone()),
            "data_dir" => Some(self.data_dir.display().to_string()),
            _ => None,
        }
    }
}

/// A URL for parity's own messages: `postgresql://app:***@host/db`. The
/// password is not a declared secret (it is often just `postgres`, and
/// masking that everywhere would garble output), but parity need not print it.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

/// `api-v2` → `API_V2`: the prefix of the variables a service exports.
pub fn env_prefix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The values of several started services, by name.
#[derive(Debug, Clone, Default)]
pub struct ServiceValues(pub(crate) IndexMap<String, Values>);

impl ServiceValues {
    /// `{{services.NAME.FIELD}}`; `own` also answers the bare fields.
    pub(crate) fn lookup(&self, name: &str, own: Option<&Values>) -> Option<String> {
        if let Some(rest) = name.strip_prefix("services.") {
            let (service, field) = rest.split_once('.')?;
            return self.0.get(service)?.field(field);
        }
        own?.field(name)
    }

    /// Renders every placeholder; an unknown one is an error naming it.
    pub(crate) fn render(
        &self,
        template: &str,
        own: Option<&Values>,
    ) -> Result<String, Unresolved> {
        render(template, |name| self.lookup(name, own))
    }

    /// Fills `{{services.NAME.FIELD}}` in a job's step or env value. Other
    /// placeholders were filled when the run was planned.
    pub fn fill(&self, text: &str) -> Result<String, String> {
        match self.render(text, None) {
            Ok(text) => Ok(text),
            Err(Unresolved(name)) => {
                let service = name
                    .strip_prefix("services.")
                    .and_then(|r| r.split_once('.'))
                    .map(|(s, _)| s);
                Err(match service {
                    Some(service) => format!(
                        "`{{{{{name}}}}}` has no value: the job does not use service `{service}` (add it to the job's `services`)"
                    ),
                    None => format!("`{{{{{name}}}}}` has no value here"),
                })
            }
        }
    }

    /// `NAME_HOST`, `NAME_PORT`, `NAME_URL` for each service.
    pub fn exports(&self) -> Vec<(String, String)> {
        let mut vars = Vec::new();
        for (name, values) in &self.0 {
            let prefix = env_prefix(name);
            vars.push((format!("{prefix}_HOST"), values.host.clone()));
            vars.push((format!("{prefix}_PORT"), values.port.to_string()));
            vars.push((format!("{prefix}_URL"), values.url.clone()));
        }
        vars
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> ServiceValues {
        let mut map = IndexMap::new();
        map.insert(
            "my-db".to_owned(),
            Values {
                host: "127.0.0.1".into(),
                port: 5433,
                url: "postgresql://postgres@127.0.0.1:5433/app".into(),
                data_dir: "/tmp/d".into(),
            },
        );
        ServiceValues(map)
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            redact_url("postgresql://app:pw@127.0.0.1:1/app"),
            "postgresql://app:***@127.0.0.1:1/app"
        );
        assert_eq!(redact_url("redis://:pw@h:1"), "redis://:***@h:1");
        assert_eq!(
            redact_url("postgresql://postgres@h:1/db"),
            "postgresql://postgres@h:1/db"
        );
        assert_eq!(redact_url("http://h:1/x@y"), "http://h:1/x@y");
    }

    #[test]
    fn renders_service_fields_and_exports_upper_cased_names() {
        let v = values();
        assert_eq!(
            v.render(
                "psql {{services.my-db.url}} -p {{ services.my-db.port }}",
                None
            )
            .unwrap(),
            "psql postgresql://postgres@127.0.0.1:5433/app -p 5433"
        );
        let own = v.0.get("my-db");
        assert_eq!(
            v.render("{{port}}:{{data_dir}}", own).unwrap(),
            "5433:/tmp/d"
        );
        assert_eq!(
            v.render("{{services.cache.url}}", None).unwrap_err(),
            Unresolved("services.cache.url".into())
        );
        let exports = v.exports();
        assert_eq!(exports[0], ("MY_DB_HOST".into(), "127.0.0.1".into()));
        assert_eq!(exports[1], ("MY_DB_PORT".into(), "5433".into()));
        assert_eq!(exports[2].0, "MY_DB_URL");
    }
}
