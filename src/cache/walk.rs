//! Finds the files the jobs' `inputs` globs match, in one walk of the tree
//! for the whole run, with `.gitignore` respected as git would, and hashes
//! each once however many jobs list it.
//!
//! Globs are matched in-process (globset); no shell ever expands them, so
//! a job's inputs do not depend on the shell's options or the locale.

use super::digest;
use super::error::CacheError;
use super::stat_cache::{now_ns, Stamp, StatCache};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// What a file is, as far as the key cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    /// A file with an execute bit: running it behaves differently.
    Executable,
    /// A symbolic link, hashed by its target path, never followed.
    Symlink,
}

impl Kind {
    pub(crate) fn tag(self) -> u8 {
        match self {
            Kind::File => b'f',
            Kind::Executable => b'x',
            Kind::Symlink => b'l',
        }
    }

    fn of(meta: &std::fs::Metadata) -> Option<Kind> {
        let kind = meta.file_type();
        if kind.is_symlink() {
            Some(Kind::Symlink)
        } else if kind.is_file() {
            Some(if meta.permissions().mode() & 0o111 != 0 {
                Kind::Executable
            } else {
                Kind::File
            })
        } else {
            None
        }
    }
}

/// One input file, relative to the pipeline root.
#[derive(Debug, Clone)]
pub(crate) struct InputFile {
    pub(crate) path: PathBuf,
    pub(crate) kind: Kind,
    pub(crate) hash: [u8; 32],
    /// Indices of the globs (in the snapshot's table) that match it.
    matches: Vec<u32>,
}

/// Every input file of the run, hashed, sorted by path bytes.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) files: Vec<InputFile>,
    /// A job's glob as written → its index in the table.
    index: HashMap<String, u32>,
    /// Globs that matched no file, for a warning: they are often typos.
    pub(crate) unmatched: Vec<String>,
    /// Bytes read and hashed afresh (not vouched for by the stat cache).
    pub(crate) hashed_bytes: u64,
}

impl Snapshot {
    /// Walks `root` for every glob in `globs`, hashing what the stat cache
    /// cannot vouch for; the stat cache learns the new hashes.
    pub(crate) fn take<'a>(
        root: &Path,
        globs: impl IntoIterator<Item = &'a String>,
        stat_cache: &mut StatCache,
    ) -> Result<Snapshot, CacheError> {
        let started_ns = now_ns();
        let mut table = GlobTable::default();
        let mut index = HashMap::new();
        for glob in globs {
            let i = table.add(root, glob)?;
            index.insert(glob.clone(), i);
        }
        let mut found = table.walk(root)?;
        found.sort_unstable_by(|a, b| {
            a.path
                .as_os_str()
                .as_bytes()
                .cmp(b.path.as_os_str().as_bytes())
        });
        found.dedup_by(|a, b| {
            let same = a.path == b.path;
            if same {
                b.matches.append(&mut a.matches);
            }
            same
        });

        let cache = &*stat_cache;
        let hashed: Vec<Result<([u8; 32], bool), CacheError>> = found
            .par_iter()
            .map(|f| match cache.get(&f.path, &f.stamp) {
                Some(hash) => Ok((hash, false)),
                None => hash_file(&root.join(&f.path), f.kind, f.stamp.size).map(|h| (h, true)),
            })
            .collect();
        let mut files = Vec::with_capacity(found.len());
        let mut learned = Vec::new();
        let mut hashed_bytes = 0;
        for (f, result) in found.into_iter().zip(hashed) {
            let (hash, fresh) = result?;
            if fresh {
                hashed_bytes += f.stamp.size;
                learned.push((f.path.clone(), f.stamp, hash));
            }
            files.push(InputFile {
                path: f.path,
                kind: f.kind,
                hash,
                matches: f.matches,
            });
        }
        stat_cache.learn(
            started_ns,
            learned.iter().map(|(p, s, h)| (p.as_path(), *s, *h)),
        );
        let used: BTreeSet<u32> = files
            .iter()
            .flat_map(|f| f.matches.iter().copied())
            .collect();
        let mut unmatched: Vec<String> = index
            .iter()
            .filter(|(_, i)| !used.contains(i))
            .map(|(g, _)| g.clone())
            .collect();
        unmatched.sort();
        Ok(Snapshot {
            files,
            index,
            unmatched,
            hashed_bytes,
        })
    }

    /// The files any of `globs` matches, as indices into `files`, in path order.
    pub(crate) fn select(&self, globs: &[String]) -> Vec<usize> {
        let wanted: BTreeSet<u32> = globs
            .iter()
            .filter_map(|g| self.index.get(g).copied())
            .collect();
        self.files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.matches.iter().any(|m| wanted.contains(m)))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A file the walk found, before hashing.
struct Found {
    path: PathBuf,
    kind: Kind,
    stamp: Stamp,
    matches: Vec<u32>,
}

/// The distinct globs of the run. A glob naming a file outright is looked
/// up directly (an explicit name counts even where `.gitignore` would skip
/// it); one naming a directory means everything under it.
#[derive(Default)]
struct GlobTable {
    ids: HashMap<String, u32>,
    /// Patterns to match during the walk, with the id each stands for.
    patterns: Vec<(String, u32)>,
    literals: Vec<(PathBuf, u32)>,
}

impl GlobTable {
    fn add(&mut self, root: &Path, glob: &str) -> Result<u32, CacheError> {
        if let Some(&id) = self.ids.get(glob) {
            return Ok(id);
        }
        let id = self.ids.len() as u32;
        self.ids.insert(glob.to_owned(), id);
        let text = glob.trim_start_matches("./").trim_end_matches('/');
        let literal = !text.contains(['*', '?', '[', ']', '{', '}', '\\']);
        if literal && root.join(text).is_dir() {
            self.patterns.push((format!("{text}/**"), id));
        } else if literal {
            self.literals.push((PathBuf::from(text), id));
        } else {
            self.patterns.push((text.to_owned(), id));
        }
        Ok(id)
    }

    fn walk(&self, root: &Path) -> Result<Vec<Found>, CacheError> {
        let mut found = Vec::new();
        for (path, id) in &self.literals {
            if let Ok(meta) = root.join(path).symlink_metadata() {
                if let Some(kind) = Kind::of(&meta) {
                    found.push(Found {
                        path: path.clone(),
                        kind,
                        stamp: Stamp::of(&meta),
                        matches: vec![*id],
                    });
                }
            }
        }
        if self.patterns.is_empty() {
            return Ok(found);
        }
        let mut builder = GlobSetBuilder::new();
        for (pattern, _) in &self.patterns {
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| CacheError::Walk {
                    path: root.to_owned(),
                    source: std::io::Error::other(format!("bad glob `{pattern}`: {e}")),
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| CacheError::Walk {
            path: root.to_owned(),
            source: std::io::Error::other(e),
        })?;
        let ids: Vec<u32> = self.patterns.iter().map(|(_, id)| *id).collect();

        let starts = walk_roots(root, self.patterns.iter().map(|(p, _)| p.as_str()));
        let ctx = Walk {
            root,
            set: &set,
            ids: &ids,
            state_dir: root.join(crate::report::STATE_DIR),
        };
        let base = base_ignores(root);
        let walked: Vec<Result<Vec<Found>, CacheError>> = starts
            .par_iter()
            .map(|start| {
                let mut ignores = base.clone();
                // `.gitignore` files between the root and the start apply too.
                let rel = start.strip_prefix(root).unwrap_or(Path::new(""));
                let parts: Vec<Component<'_>> = rel.components().collect();
                let mut dir = root.to_owned();
                if !parts.is_empty() {
                    push_gitignore(&mut ignores, &dir);
                }
                for part in &parts[..parts.len().saturating_sub(1)] {
                    dir.push(part);
                    push_gitignore(&mut ignores, &dir);
                }
                ctx.dir(start, rel, &ignores)
            })
            .collect();
        for part in walked {
            found.extend(part?);
        }
        Ok(found)
    }
}

/// `.gitignore` matchers in force, outermost first.
type Ignores = Vec<Arc<Gitignore>>;

/// What every directory of one walk shares.
struct Walk<'a> {
    root: &'a Path,
    set: &'a GlobSet,
    ids: &'a [u32],
    state_dir: PathBuf,
}

impl Walk<'_> {
    /// Lists `dir` (`rel` under the root), keeps the files a pattern
    /// matches, and walks its subdirectories in parallel. Entries are
    /// stat'ed relative to the open directory (`DirEntry::metadata`), which
    /// spares the kernel a full path lookup per file.
    fn dir(&self, dir: &Path, rel: &Path, inherited: &Ignores) -> Result<Vec<Found>, CacheError> {
        let mut ignores;
        let ignores = if dir.join(".gitignore").is_file() {
            ignores = inherited.clone();
            push_gitignore(&mut ignores, dir);
            &ignores
        } else {
            inherited
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(CacheError::Walk {
                    path: dir.to_owned(),
                    source,
                })
            }
        };
        let mut found = Vec::new();
        let mut subdirs = Vec::new();
        let mut matches = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| CacheError::Walk {
                path: dir.to_owned(),
                source,
            })?;
            let name = entry.file_name();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = rel.join(&name);
            if kind.is_dir() {
                if name == ".git"
                    || dir.join(&name) == self.state_dir
                    || ignored(ignores, self.root, &path, true)
                {
                    continue;
                }
                subdirs.push(path);
                continue;
            }
            self.set.matches_into(&path, &mut matches);
            if matches.is_empty() || ignored(ignores, self.root, &path, false) {
                continue;
            }
            let meta = entry.metadata().map_err(|source| CacheError::Input {
                path: self.root.join(&path),
                source,
            })?;
            if let Some(kind) = Kind::of(&meta) {
                found.push(Found {
                    path,
                    kind,
                    stamp: Stamp::of(&meta),
                    matches: matches.iter().map(|&i| self.ids[i]).collect(),
                });
            }
        }
        let nested: Vec<Result<Vec<Found>, CacheError>> = subdirs
            .par_iter()
            .map(|sub| self.dir(&self.root.join(sub), sub, ignores))
            .collect();
        for part in nested {
            found.extend(part?);
        }
        Ok(found)
    }
}

/// Whether git would ignore `rel`: the innermost `.gitignore` that has a
/// say decides, so a `!pattern` deeper down re-includes.
fn ignored(ignores: &Ignores, root: &Path, rel: &Path, is_dir: bool) -> bool {
    if ignores.is_empty() {
        return false;
    }
    let full = root.join(rel);
    for matcher in ignores.iter().rev() {
        match matcher.matched(&full, is_dir) {
            ignore::Match::Ignore(_) => return true,
            ignore::Match::Whitelist(_) => return false,
            ignore::Match::None => {}
        }
    }
    false
}

fn push_gitignore(ignores: &mut Ignores, dir: &Path) {
    let file = dir.join(".gitignore");
    if file.is_file() {
        let mut builder = GitignoreBuilder::new(dir);
        let _ = builder.add(&file);
        if let Ok(matcher) = builder.build() {
            ignores.push(Arc::new(matcher));
        }
    }
}

/// What applies above the pipeline root: the repository's
/// `.git/info/exclude` and the `.gitignore` files from the repository's top
/// down to the root's parent. The user's global excludes never apply: they
/// differ from machine to machine, and keys must not.
fn base_ignores(root: &Path) -> Ignores {
    let mut ignores = Ignores::new();
    let Some(top) = root.ancestors().find(|dir| dir.join(".git").exists()) else {
        return ignores;
    };
    let exclude = top.join(".git/info/exclude");
    if exclude.is_file() {
        let mut builder = GitignoreBuilder::new(top);
        let _ = builder.add(&exclude);
        if let Ok(matcher) = builder.build() {
            ignores.push(Arc::new(matcher));
        }
    }
    let mut between: Vec<&Path> = root
        .ancestors()
        .skip(1)
        .take_while(|dir| dir.starts_with(top))
        .collect();
    between.reverse();
    for dir in between {
        push_gitignore(&mut ignores, dir);
    }
    ignores
}

/// Where the walk starts: the literal leading directories of the patterns,
/// so `src/**` never reads `node_modules/`. A pattern starting with a
/// wildcard walks the whole root.
fn walk_roots<'a>(root: &Path, patterns: impl Iterator<Item = &'a str>) -> Vec<PathBuf> {
    let mut prefixes: Vec<PathBuf> = Vec::new();
    for pattern in patterns {
        let parts: Vec<&str> = pattern.split('/').collect();
        let literal: Vec<&str> = parts[..parts.len().saturating_sub(1)]
            .iter()
            .take_while(|part| !part.contains(['*', '?', '[', ']', '{', '}', '\\']))
            .copied()
            .collect();
        let prefix = clean(&literal.join("/"));
        prefixes.push(prefix);
    }
    prefixes.sort();
    prefixes.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for prefix in prefixes {
        if !kept.iter().any(|k| prefix.starts_with(k)) {
            kept.push(prefix);
        }
    }
    kept.into_iter()
        .map(|p| root.join(p))
        .filter(|p| p.is_dir())
        .collect()
}

/// A relative path without `.` components and with no way out of the root.
fn clean(text: &str) -> PathBuf {
    Path::new(text)
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

fn hash_file(path: &Path, kind: Kind, size: u64) -> Result<[u8; 32], CacheError> {
    let result = match kind {
        Kind::Symlink => std::fs::read_link(path).map(|target| {
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"symlink\0");
            hasher.update(target.as_os_str().as_bytes());
            *hasher.finalize().as_bytes()
        }),
        Kind::File | Kind::Executable => digest::blake3_file(path, size),
    };
    result.map_err(|source| CacheError::Input {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    #[test]
    fn one_walk_respects_gitignore_and_selects_per_job() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".gitignore", "*.log\n/build\n");
        write(root, "src/a.rs", "a");
        write(root, "src/deep/b.rs", "b");
        write(root, "src/skip.log", "ignored");
        write(root, "build/out.rs", "ignored");
        write(root, "Cargo.toml", "toml");
        write(root, ".git/HEAD", "never");
        write(root, "docs/x.md", "x");
        write(root, "src/deep/.gitignore", "!keep.log\n");
        write(
            root,
            "src/deep/keep.log",
            "re-included by a deeper .gitignore",
        );
        let globs: Vec<String> = ["src/**", "Cargo.toml", "docs", "nothing/**", "**/*.rs"]
            .map(String::from)
            .to_vec();
        let mut cache = StatCache::default();
        let snap = Snapshot::take(root, &globs, &mut cache).unwrap();
        let paths: Vec<String> = snap
            .files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        let expected = [
            "Cargo.toml",
            "docs/x.md",
            "src/a.rs",
            "src/deep/.gitignore",
            "src/deep/b.rs",
            "src/deep/keep.log",
        ];
        assert_eq!(paths, expected);
        assert_eq!(snap.unmatched, ["nothing/**"]);
        let rs: Vec<usize> = snap.select(&["**/*.rs".to_owned()]);
        assert_eq!(rs, [2, 4]);
        assert_eq!(
            snap.select(&["docs".to_owned(), "Cargo.toml".to_owned()]),
            [0, 1]
        );
        // Unchanged files come from the stat cache the second time.
        let again = Snapshot::take(root, &globs, &mut cache).unwrap();
        assert_eq!(again.files.len(), 6);
    }
}
