//! A Bazel-compatible HTTP cache: `GET`/`PUT`/`HEAD` on `/ac/<key>` for
//! action entries and `/cas/<sha256>` for blobs, as bazel-remote, nginx
//! with WebDAV `PUT`, or a bucket behind an HTTP endpoint serve them.
//!
//! Nothing here decides what a failure means for the run; the session turns
//! `RemoteError::Unreachable` into one warning and a local-only run.

use super::digest::{base64, BlobId};
use super::store::{PutError, Store};
use crate::pipeline::{CacheWrite, Pipeline};
use indexmap::IndexMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

/// The cache URL from the environment, over `[cache] remote`.
pub const URL_VAR: &str = "PARITY_CACHE_URL";
/// Where the remote's credential is read when `[cache] token_env` is unset.
pub const DEFAULT_TOKEN_VAR: &str = "PARITY_CACHE_TOKEN";
/// Seconds a remote operation may stall before the remote counts as down.
pub const TIMEOUT_VAR: &str = "PARITY_CACHE_TIMEOUT";

/// How long one network operation may stall before the remote counts as
/// down, unless `[cache] timeout` says (`PARITY_CACHE_TIMEOUT`, seconds,
/// overrides both).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting takes no longer than this on any network worth using.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Action entries are small; a larger answer is not one of parity's.
const MAX_ENTRY: u64 = 16 << 20;

#[derive(Debug)]
pub(crate) enum RemoteError {
    /// Down, refusing connections, or too slow: stop using it this run.
    Unreachable(String),
    /// It answered, but not with what the layout promises.
    Status { status: u16, request: String },
    /// Downloaded content does not match its id.
    Corrupt(String),
    /// Writing what was downloaded into the local store failed.
    Local(io::Error),
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteError::Unreachable(why) => f.write_str(why),
            RemoteError::Status { status, request } => {
                write!(f, "{request} answered HTTP {status}")
            }
            RemoteError::Corrupt(why) => f.write_str(why),
            RemoteError::Local(e) => write!(f, "cannot write to the local store: {e}"),
        }
    }
}

/// How to authenticate: the value of the `Authorization` header.
fn authorization(credential: &str) -> String {
    match credential.split_once(':') {
        Some(_) => format!("Basic {}", base64(credential.as_bytes())),
        None => format!("Bearer {credential}"),
    }
}

pub(crate) struct Remote {
    base: String,
    agent: ureq::Agent,
    authorization: Option<String>,
}

impl Remote {
    /// `base` is the cache URL without a trailing `/`; `credential` is a
    /// bearer token, or `user:password` for basic authentication.
    pub(crate) fn new(base: &str, credential: Option<&str>, timeout: Option<Duration>) -> Remote {
        let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT.min(timeout)))
            .timeout_resolve(Some(CONNECT_TIMEOUT.min(timeout)))
            .timeout_send_request(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .max_redirects(0)
            .build();
        Remote {
            base: base.trim_end_matches('/').to_owned(),
            agent: config.new_agent(),
            authorization: credential.filter(|c| !c.is_empty()).map(authorization),
        }
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, kind: &str, id: &str) -> String {
        format!("{}/{kind}/{id}", self.base)
    }

    /// The action entry under `key`, `None` when the cache has none.
    pub(crate) fn get_ac(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let url = self.url("ac", key);
        let mut request = self.agent.get(&url);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request.call().map_err(|e| unreachable("GET", &url, &e))?;
        match response.status().as_u16() {
            200 => {
                let mut bytes = Vec::new();
                response
                    .body_mut()
                    .with_config()
                    .limit(MAX_ENTRY)
                    .reader()
                    .read_to_end(&mut bytes)
                    .map_err(|e| RemoteError::Unreachable(format!("GET {url}: {e}")))?;
                Ok(Some(bytes))
            }
            404 => Ok(None),
            status => Err(RemoteError::Status {
                status,
                request: format!("GET {url}"),
            }),
        }
    }

    pub(crate) fn put_ac(&self, key: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        let url = self.url("ac", key);
        let mut request = self
            .agent
            .put(&url)
            .header("Content-Type", "application/json");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request
            .send(bytes)
            .map_err(|e| unreachable("PUT", &url, &e))?;
        expect_success(response.status().as_u16(), "PUT", &url)
    }

    /// Whether the cache holds the blob (HEAD).
    pub(crate) fn has_blob(&self, id: &BlobId) -> Result<bool, RemoteError> {
        let url = self.url("cas", &id.sha256);
        let mut request = self.agent.head(&url);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request.call().map_err(|e| unreachable("HEAD", &url, &e))?;
        match response.status().as_u16() {
            200 | 204 => Ok(true),
            404 => Ok(false),
            status => Err(RemoteError::Status {
                status,
                request: format!("HEAD {url}"),
            }),
        }
    }

    /// Downloads a blob into the local store, verifying it on the way.
    /// `Ok(false)` when the cache does not have it.
    pub(crate) fn get_blob(&self, id: &BlobId, store: &Store) -> Result<bool, RemoteError> {
        let url = self.url("cas", &id.sha256);
        let mut request = self.agent.get(&url);
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request.call().map_err(|e| unreachable("GET", &url, &e))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Ok(false),
            status => {
                return Err(RemoteError::Status {
                    status,
                    request: format!("GET {url}"),
                })
            }
        }
        // One byte over the size is read to notice a blob that is too long.
        let body = response
            .body_mut()
            .with_config()
            .limit(id.size.saturating_add(1))
            .reader();
        let mut reader = Watched {
            inner: body,
            failed: None,
        };
        match store.put_verified(id, &mut reader) {
            Ok(()) => Ok(true),
            Err(PutError::Corrupt(why)) => Err(RemoteError::Corrupt(format!("{url}: {why}"))),
            Err(PutError::Io(e)) => match reader.failed {
                Some(why) if why.contains("limit") => Err(RemoteError::Corrupt(format!(
                    "{url}: longer than the {} bytes expected",
                    id.size
                ))),
                Some(why) => Err(RemoteError::Unreachable(format!("GET {url}: {why}"))),
                None => Err(RemoteError::Local(e)),
            },
        }
    }

    /// Uploads a blob unless the cache already has it.
    pub(crate) fn put_blob(&self, id: &BlobId, path: &Path) -> Result<(), RemoteError> {
        if self.has_blob(id)? {
            return Ok(());
        }
        let url = self.url("cas", &id.sha256);
        let file = File::open(path).map_err(RemoteError::Local)?;
        let mut request = self
            .agent
            .put(&url)
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request
            .send(file)
            .map_err(|e| unreachable("PUT", &url, &e))?;
        expect_success(response.status().as_u16(), "PUT", &url)
    }
}

/// The remote this run uses and whether it may write there: from
/// `PARITY_CACHE_URL` or `[cache] remote`, `[cache] write` and `CI`.
pub(crate) fn configure(
    pipeline: &Pipeline,
    ambient: &IndexMap<String, String>,
    read_only: bool,
    warnings: &mut Vec<String>,
) -> Option<(Remote, bool)> {
    let from_env = ambient.get(URL_VAR).filter(|u| !u.trim().is_empty());
    let url = match from_env {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            url.trim().to_owned()
        }
        Some(url) => {
            warnings.push(format!(
                "{URL_VAR}=`{url}` is not an http:// or https:// URL; the remote cache is not used"
            ));
            return None;
        }
        None => pipeline.cache.remote.clone()?,
    };
    let token_var = pipeline
        .cache
        .token_env
        .as_deref()
        .unwrap_or(DEFAULT_TOKEN_VAR);
    let credential = ambient.get(token_var).map(String::as_str);
    let timeout = ambient
        .get(TIMEOUT_VAR)
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
        .or(pipeline.cache.timeout);
    // `CI=true` as every CI system sets it; anything but empty/0/false/no/off.
    let ci = ambient.get("CI").is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    });
    let writable = !read_only
        && match pipeline.cache.write {
            CacheWrite::Always => true,
            CacheWrite::Never => false,
            CacheWrite::Ci => ci,
        };
    Some((Remote::new(&url, credential, timeout), writable))
}

fn expect_success(status: u16, method: &str, url: &str) -> Result<(), RemoteError> {
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(RemoteError::Status {
            status,
            request: format!("{method} {url}"),
        })
    }
}

fn unreachable(method: &str, url: &str, error: &ureq::Error) -> RemoteError {
    RemoteError::Unreachable(format!("{method} {url}: {error}"))
}

/// A reader that remembers whether it (the network) failed, so a failed
/// copy can be blamed on the network or on the local disk.
struct Watched<R> {
    inner: R,
    failed: Option<String>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .inspect_err(|e| self.failed = Some(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        assert_eq!(authorization("abc"), "Bearer abc");
        assert_eq!(authorization("user:pass"), "Basic dXNlcjpwYXNz");
    }
}
