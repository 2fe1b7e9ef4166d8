//! The raw shape of `parity.toml`, exactly as serde reads it.
//!
//! Every table denies unknown keys so a typo fails loudly instead of silently
//! skipping a job. Values that later checks must point at keep their spans.
//! Nothing here interprets the values: `validate` turns this into a `Pipeline`.

use indexmap::IndexMap;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// A string with the byte range it came from in the pipeline file.
pub(crate) type SpannedStr = Spanned<String>;

/// A `matrix` table: axes, `include` and `exclude`, each value with its
/// span; their shapes are checked in validation, with its messages.
pub(crate) type RawMatrix = Spanned<IndexMap<String, Spanned<toml::Value>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPipeline {
    pub(crate) version: Spanned<i64>,
    #[serde(default)]
    pub(crate) tools: IndexMap<String, ScalarString>,
    #[serde(default)]
    pub(crate) env: IndexMap<SpannedStr, Spanned<ScalarString>>,
    pub(crate) runner: Option<RawRunner>,
    pub(crate) secrets: Option<RawSecrets>,
    pub(crate) cache: Option<RawCache>,
    pub(crate) compose: Option<SpannedStr>,
    #[serde(default)]
    pub(crate) profiles: IndexMap<SpannedStr, RawProfile>,
    #[serde(default)]
    pub(crate) services: IndexMap<SpannedStr, RawService>,
    #[serde(default)]
    pub(crate) jobs: IndexMap<SpannedStr, RawJob>,
    #[serde(default)]
    pub(crate) deploy: IndexMap<SpannedStr, RawDeploy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRunner {
    pub(crate) dockerfile: Option<SpannedStr>,
    pub(crate) image: Option<SpannedStr>,
    pub(crate) context: Option<SpannedStr>,
    #[serde(default)]
    pub(crate) build_args: IndexMap<String, ScalarString>,
    #[serde(default)]
    pub(crate) mount_docker_socket: bool,
    pub(crate) gpus: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecrets {
    #[serde(default)]
    pub(crate) required: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) optional: Vec<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCache {
    pub(crate) remote: Option<SpannedStr>,
    pub(crate) write: Option<SpannedStr>,
    pub(crate) max_size: Option<SpannedStr>,
    pub(crate) token_env: Option<String>,
    pub(crate) timeout: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    #[serde(default)]
    pub(crate) skip: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) only: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) enable: Vec<SpannedStr>,
    pub(crate) container: Option<bool>,
    #[serde(default)]
    pub(crate) keep_going: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub(crate) preset: Option<SpannedStr>,
    pub(crate) command: Option<SpannedStr>,
    pub(crate) image: Option<SpannedStr>,
    pub(crate) port: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) ports: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) env: IndexMap<SpannedStr, Spanned<ScalarString>>,
    #[serde(default)]
    pub(crate) needs: Vec<SpannedStr>,
    pub(crate) ready: Option<RawReady>,
    pub(crate) data_dir: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReady {
    pub(crate) exec: Option<SpannedStr>,
    pub(crate) tcp: Option<SpannedStr>,
    pub(crate) http: Option<SpannedStr>,
    pub(crate) status: Option<Spanned<i64>>,
    pub(crate) log: Option<SpannedStr>,
    pub(crate) times: Option<Spanned<i64>>,
    pub(crate) interval: Option<SpannedStr>,
    pub(crate) timeout: Option<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJob {
    pub(crate) run: Spanned<Steps>,
    #[serde(default)]
    pub(crate) needs: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) env: IndexMap<SpannedStr, Spanned<ScalarString>>,
    pub(crate) switch: Option<SpannedStr>,
    pub(crate) timeout: Option<SpannedStr>,
    pub(crate) shell: Option<SpannedStr>,
    pub(crate) matrix: Option<RawMatrix>,
    #[serde(default)]
    pub(crate) publish: bool,
    #[serde(default)]
    pub(crate) services: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) inputs: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) outputs: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) cache_env: Vec<SpannedStr>,
    pub(crate) runs_on: Option<String>,
    pub(crate) container: Option<bool>,
    pub(crate) working_directory: Option<SpannedStr>,
    #[serde(default)]
    pub(crate) secrets: Vec<SpannedStr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDeploy {
    pub(crate) run: Spanned<Steps>,
    pub(crate) branch: Option<SpannedStr>,
    #[serde(default)]
    pub(crate) needs: Vec<SpannedStr>,
    #[serde(default)]
    pub(crate) services: Vec<SpannedStr>,
    pub(crate) timeout: Option<SpannedStr>,
    #[serde(default)]
    pub(crate) env: IndexMap<SpannedStr, Spanned<ScalarString>>,
    pub(crate) lease: Option<SpannedStr>,
    pub(crate) shell: Option<SpannedStr>,
    pub(crate) runs_on: Option<String>,
}

/// `run = "one step"` or `run = ["step one", "step two"]`.
///
/// Hand-written instead of `#[serde(untagged)]`, whose errors say nothing
/// useful about what was expected.
#[derive(Debug)]
pub(crate) struct Steps(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = Steps;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a command string or a list of command strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Steps, E> {
                Ok(Steps(vec![v.to_owned()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Steps, A::Error> {
                let mut steps = Vec::new();
                while let Some(step) = seq.next_element::<String>()? {
                    steps.push(step);
                }
                Ok(Steps(steps))
            }
        }
        deserializer.deserialize_any(StepsVisitor)
    }
}

/// An env or tool value: TOML strings, numbers and booleans all become the
/// string a shell would see (`PORT = 5432` is as good as `PORT = "5432"`).
#[derive(Debug, Clone)]
pub(crate) struct ScalarString(pub(crate) String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}
