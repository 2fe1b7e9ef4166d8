//! What goes into a runner image, for its hash: the Dockerfile, its build
//! args, and the files of the build context its `COPY` and `ADD` read.
//!
//! Hashing only those files (not the whole context) is what lets source be
//! edited freely without a rebuild: dependencies are baked in at build
//! time, source is mounted at run time.

use super::ContainerError;
use globset::{Glob, GlobMatcher};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Bump to rebuild every runner image once, when the hash recipe changes.
const RECIPE: &str = "parity-runner-image 1";

/// Directories never hashed: parity's own run state changes on every run,
/// and `.git` on every `git status`; neither is a dependency.
const NEVER: [&str; 2] = [".parity", ".git"];

/// The hash of everything that builds the image, as 64 hex digits.
pub(crate) fn hash(
    dockerfile: &Path,
    context: &Path,
    build_args: &IndexMap<String, String>,
) -> Result<String, ContainerError> {
    let text = std::fs::read(dockerfile).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ContainerError::NoDockerfile {
            path: dockerfile.to_owned(),
        },
        _ => ContainerError::Read {
            path: dockerfile.to_owned(),
            source,
        },
    })?;
    let mut hasher = Sha256::new();
    hasher.update(RECIPE.as_bytes());
    frame(&mut hasher, b"dockerfile", &text);
    let mut args: Vec<(&String, &String)> = build_args.iter().collect();
    args.sort();
    for (key, value) in args {
        frame(&mut hasher, b"arg", format!("{key}={value}").as_bytes());
    }
    let sources = copy_sources(&String::from_utf8_lossy(&text));
    let ignore = DockerIgnore::read(context, dockerfile);
    for file in context_files(context, &sources, &ignore) {
        let rel = file.strip_prefix(context).unwrap_or(&file);
        frame(&mut hasher, b"path", rel.to_string_lossy().as_bytes());
        hash_file(&mut hasher, &file);
    }
    Ok(hex(&hasher.finalize()))
}

/// Length-prefixed, so `ab`+`c` and `a`+`bc` hash differently.
fn frame(hasher: &mut Sha256, kind: &[u8], bytes: &[u8]) {
    hasher.update(kind);
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

fn hash_file(hasher: &mut Sha256, path: &Path) {
    if let Ok(target) = std::fs::read_link(path) {
        frame(hasher, b"link", target.to_string_lossy().as_bytes());
        return;
    }
    let mut inner = Sha256::new();
    match std::fs::File::open(path) {
        Ok(mut file) => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => inner.update(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            frame(hasher, b"file", &inner.finalize());
        }
        // An unreadable file breaks `docker build` too; hash the fact.
        Err(e) => frame(hasher, b"unreadable", e.to_string().as_bytes()),
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The context paths (or globs) that `COPY` and `ADD` read. Copies from
/// another stage (`--from=`) and URLs read nothing from the context.
pub(crate) fn copy_sources(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for instruction in instructions(dockerfile) {
        let mut words = instruction.splitn(2, char::is_whitespace);
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        if keyword != "COPY" && keyword != "ADD" {
            continue;
        }
        let rest = words.next().unwrap_or_default().trim();
        let mut args: Vec<String> = if rest.starts_with('[') {
            serde_json::from_str(rest).unwrap_or_default()
        } else {
            shlex::split(rest)
                .unwrap_or_else(|| rest.split_whitespace().map(str::to_owned).collect())
        };
        let flags: Vec<String> = args
            .iter()
            .take_while(|a| a.starts_with("--"))
            .cloned()
            .collect();
        if flags.iter().any(|f| f.starts_with("--from")) {
            continue;
        }
        args.drain(..flags.len());
        // The last word is the destination.
        args.pop();
        sources.extend(
            args.into_iter()
                .filter(|a| !a.contains("://") && !a.starts_with("<<"))
                .map(|a| {
                    a.trim_start_matches("./")
                        .trim_start_matches('/')
                        .to_owned()
                }),
        );
    }
    sources
}

/// The Dockerfile's instructions, continuation lines joined and comments
/// dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') && current.is_empty()
            || trimmed.is_empty() && current.is_empty()
        {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        current.push_str(trimmed);
        out.push(std::mem::take(&mut current));
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The files `sources` name in the context, sorted, ignored ones left out.
fn context_files(context: &Path, sources: &[String], ignore: &DockerIgnore) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    let mut all: Option<Vec<PathBuf>> = None;
    for source in sources {
        let source = if source.is_empty() {
            "."
        } else {
            source.as_str()
        };
        if source.contains(['*', '?', '[']) {
            let Ok(glob) = Glob::new(source) else {
                continue;
            };
            let matcher = glob.compile_matcher();
            let everything = all.get_or_insert_with(|| {
                let mut list = Vec::new();
                walk(context, context, ignore, &mut list);
                list
            });
            for file in everything.iter() {
                let rel = file.strip_prefix(context).unwrap_or(file);
                if rel
                    .ancestors()
                    .any(|a| !a.as_os_str().is_empty() && matcher.is_match(a))
                {
                    files.insert(file.clone());
                }
            }
            continue;
        }
        let path = context.join(source);
        if path.is_dir() {
            let mut list = Vec::new();
            walk(context, &path, ignore, &mut list);
            files.extend(list);
        } else if path.exists() || path.is_symlink() {
            let rel = path.strip_prefix(context).unwrap_or(&path);
            if !ignore.ignored(rel) {
                files.insert(path);
            }
        }
    }
    files
}

fn walk(context: &Path, dir: &Path, ignore: &DockerIgnore, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(context).unwrap_or(&path);
        if rel.components().count() == 1 && NEVER.iter().any(|n| rel == Path::new(n)) {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if ignore.ignored(rel) && !(is_dir && ignore.has_exceptions) {
            continue;
        }
        if is_dir {
            walk(context, &path, ignore, out);
        } else {
            out.push(path);
        }
    }
}

/// `.dockerignore` patterns: anchored at the context root, `**` for any
/// depth, `!` to re-include; the last matching pattern decides, and a
/// pattern that matches a directory covers what is inside it.
pub(crate) struct DockerIgnore {
    patterns: Vec<(bool, GlobMatcher)>,
    has_exceptions: bool,
}

impl DockerIgnore {
    /// `<Dockerfile>.dockerignore` next to the Dockerfile wins over the
    /// context's `.dockerignore`, as in BuildKit.
    fn read(context: &Path, dockerfile: &Path) -> DockerIgnore {
        let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
        let text = std::fs::read_to_string(&specific)
            .or_else(|_| std::fs::read_to_string(context.join(".dockerignore")))
            .unwrap_or_default();
        Self::parse(&text)
    }

    pub(crate) fn parse(text: &str) -> DockerIgnore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = pattern
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            if let Ok(glob) = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
            {
                patterns.push((negate, glob.compile_matcher()));
            }
        }
        let has_exceptions = patterns.iter().any(|(negate, _)| *negate);
        DockerIgnore {
            patterns,
            has_exceptions,
        }
    }

    pub(crate) fn ignored(&self, rel: &Path) -> bool {
        let mut ignored = false;
        for (negate, matcher) in &self.patterns {
            if rel
                .ancestors()
                .any(|a| !a.as_os_str().is_empty() && matcher.is_match(a))
            {
                ignored = !negate;
            }
        }
        ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_of_copy_and_add() {
        let text = "FROM x AS base\n# COPY nope /\nCOPY --chown=1:1 requirements.txt ./lock/ /app/\n\
                    COPY --from=base /a /b\nADD https://example.com/f /f\nRUN echo \\\n  COPY fake /x\n\
                    COPY [\"pkg/*.json\", \"/app/\"]\n";
        assert_eq!(
            copy_sources(text),
            ["requirements.txt", "lock/", "pkg/*.json"]
        );
    }

    #[test]
    fn dockerignore_last_match_wins() {
        let ignore = DockerIgnore::parse("target\n**/*.log\n!keep.log\n");
        assert!(ignore.ignored(Path::new("target/debug/x")));
        assert!(ignore.ignored(Path::new("a/b.log")));
        assert!(!ignore.ignored(Path::new("keep.log")));
        assert!(!ignore.ignored(Path::new("src/main.rs")));
    }

    #[test]
    fn hash_follows_copied_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Dockerfile"),
            "FROM base\nCOPY deps.txt /deps.txt\n",
        )
        .unwrap();
        std::fs::write(root.join("deps.txt"), "a==1\n").unwrap();
        std::fs::write(root.join("main.py"), "print(1)\n").unwrap();
        let args = IndexMap::new();
        let first = hash(&root.join("Dockerfile"), root, &args).unwrap();
        std::fs::write(root.join("main.py"), "print(2)\n").unwrap();
        assert_eq!(
            first,
            hash(&root.join("Dockerfile"), root, &args).unwrap(),
            "source edits do not rebuild"
        );
        std::fs::write(root.join("deps.txt"), "a==2\n").unwrap();
        let second = hash(&root.join("Dockerfile"), root, &args).unwrap();
        assert_ne!(first, second, "a copied file changes the hash");
        let with_arg: IndexMap<String, String> =
            [("PY".to_owned(), "3.12".to_owned())].into_iter().collect();
        assert_ne!(
            second,
            hash(&root.join("Dockerfile"), root, &with_arg).unwrap()
        );
    }
}
