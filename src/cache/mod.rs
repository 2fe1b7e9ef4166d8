//! Skipping what did not change: a job that declares `inputs` gets a key
//! (BLAKE3 over its definition, its input files, its needs' keys and the
//! env values it lists in `cache_env`); a passed job's log and `outputs`
//! are stored under that key, locally and in a Bazel-compatible HTTP
//! cache, and restored the next time the key comes up.
//!
//! Files in processing order: `walk` (inputs, hashed once, `stat_cache`) →
//! `key` → `store`/`remote` (`entry`, `outputs`) → `explain`; `session`
//! ties them together for one run.

mod digest;
mod entry;
mod error;
mod explain;
mod key;
mod outputs;
mod remote;
mod session;
mod stat_cache;
mod store;
mod walk;

pub use error::CacheError;
pub use explain::{Change, Edit, Explanation, Found};
pub use remote::{DEFAULT_TOKEN_VAR, TIMEOUT_VAR, URL_VAR};
pub use session::{CacheSession, CacheSettings, Hit};
pub use store::{parse_size, GcReport, StoreStats, DEFAULT_MAX_SIZE};

/// The local store, for `parity cache stats` and `parity cache gc`.
pub struct LocalCache {
    store: store::Store,
}

impl LocalCache {
    /// Opens the store under the user cache directory.
    pub fn open() -> Result<LocalCache, CacheError> {
        let base = store::Store::default_base()?;
        Ok(LocalCache {
            store: store::Store::open(&base)?,
        })
    }

    pub fn stats(&self, limit: u64) -> StoreStats {
        self.store.stats(limit)
    }

    /// Evicts least recently used entries down to `limit`, waiting for
    /// runs that are using the store to finish.
    pub fn gc(&self, limit: u64) -> Result<GcReport, CacheError> {
        let _exclusive = self.store.lock(true, true)?;
        Ok(self.store.gc(limit))
    }
}
