//! Secret masking that holds across chunk boundaries.
//!
//! Output arrives in pipe-sized chunks; a secret can be split between two of
//! them. [`MaskStream`] keeps back the end of a chunk that could be the start
//! of a secret (at most the longest secret less one byte), so no secret
//! straddles what it lets through.

use aho_corasick::{AhoCorasick, MatchKind};
use std::sync::Arc;

/// What a masked secret is replaced with.
pub const MASK: &[u8] = b"***";

/// Secrets shorter than this still get masked, with a warning: masking them
/// also hides innocent text and a short value is easy to guess anyway.
pub const MIN_SAFE_LEN: usize = 4;

/// The set of secret values to hide, compiled once and shared by every stream.
#[derive(Clone, Default)]
pub struct SecretSet {
    matcher: Option<Arc<AhoCorasick>>,
    /// What the matcher looks for: each value, and each line of a multi-line one.
    patterns: Arc<[String]>,
    longest: usize,
}

impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the values themselves.
        f.debug_struct("SecretSet")
            .field("longest", &self.longest)
            .finish_non_exhaustive()
    }
}

impl SecretSet {
    /// Compiles the values to hide. A multi-line value is also hidden line by
    /// line, since tools often print it one line at a time.
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<String> = Vec::new();
        for value in values {
            let value = value.as_ref();
            if value.is_empty() {
                continue;
            }
            patterns.push(value.to_owned());
            if value.contains('\n') {
                patterns.extend(
                    value
                        .lines()
                        .map(|l| l.trim_end_matches('\r'))
                        .filter(|l| l.len() >= MIN_SAFE_LEN)
                        .map(str::to_owned),
                );
            }
        }
        patterns.sort();
        patterns.dedup();
        if patterns.is_empty() {
            return SecretSet::default();
        }
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok()
            .map(Arc::new);
        SecretSet {
            matcher,
            patterns: patterns.into(),
            longest,
        }
    }

    /// `::add-mask::` workflow commands that make GitHub and Gitea Actions
    /// hide every value too, one per line as the runner requires, with the
    /// runner's escapes for `%`, CR and LF.
    pub fn add_mask_commands(&self) -> String {
        let mut lines: Vec<&str> = Vec::new();
        for pattern in self.patterns.iter() {
            if !pattern.contains('\n') {
                lines.push(pattern);
                continue;
            }
            // Short lines of a multi-line value (a lone `}`) would hide
            // innocent text everywhere; the long ones carry the secret.
            lines.extend(
                pattern
                    .lines()
                    .map(|l| l.trim_end_matches('\r'))
                    .filter(|l| l.len() >= MIN_SAFE_LEN),
            );
        }
        lines.dedup();
        let mut out = String::new();
        for line in lines {
            out.push_str("::add-mask::");
            out.push_str(&line.replace('%', "%25").replace('\r', "%0D"));
            out.push('\n');
        }
        out
    }

    /// What the set looks for: [`SecretSet::new`] of these is the same set.
    /// Only for handing the set to another parity process (`services/relay.rs`).
    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether more bytes after `start` could make it (or a longer secret
    /// beginning like it) a secret.
    fn could_begin(&self, start: &[u8]) -> bool {
        self.patterns
            .iter()
            .any(|p| p.len() > start.len() && p.as_bytes().starts_with(start))
    }

    /// Masks a whole string at once (error messages, report fields).
    pub fn mask_str(&self, text: &str) -> String {
        match &self.matcher {
            Some(m) => m.replace_all(text, &vec!["***"; m.patterns_len()]),
            None => text.to_owned(),
        }
    }

    /// A masking stream for one output pipe.
    pub fn stream(&self) -> MaskStream {
        MaskStream {
            set: self.clone(),
            pending: Vec::new(),
        }
    }
}

/// Masks one byte stream chunk by chunk.
pub struct MaskStream {
    set: SecretSet,
    pending: Vec<u8>,
}

impl MaskStream {
    /// Appends to `out` the masked bytes of `chunk` that can no longer be
    /// part of a secret; keeps the rest for the next call.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(matcher) = &self.set.matcher else {
            out.extend_from_slice(chunk);
            return;
        };
        self.pending.extend_from_slice(chunk);
        // Held back: the end of the bytes from where they could still grow
        // into a secret, so a line's end is not kept waiting for more.
        let tail = self.pending.len().saturating_sub(self.set.longest - 1);
        let keep_from = (tail..self.pending.len())
            .find(|&i| self.set.could_begin(&self.pending[i..]))
            .unwrap_or(self.pending.len());
        let mut emitted = 0;
        for found in matcher.find_iter(&self.pending) {
            if found.start() >= keep_from {
                break;
            }
            out.extend_from_slice(&self.pending[emitted..found.start()]);
            out.extend_from_slice(MASK);
            emitted = found.end();
        }
        let cut = keep_from.max(emitted);
        if emitted < cut {
            out.extend_from_slice(&self.pending[emitted..cut]);
        }
        self.pending.drain(..cut);
    }

    /// Flushes what was held back at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.pending);
        match &self.set.matcher {
            Some(m) => {
                let mut last = 0;
                for found in m.find_iter(&rest) {
                    out.extend_from_slice(&rest[last..found.start()]);
                    out.extend_from_slice(MASK);
                    last = found.end();
                }
                out.extend_from_slice(&rest[last..]);
            }
            None => out.extend_from_slice(&rest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked_in_two(set: &SecretSet, text: &[u8], split: usize) -> Vec<u8> {
        let mut stream = set.stream();
        let mut out = Vec::new();
        stream.push(&text[..split], &mut out);
        stream.push(&text[split..], &mut out);
        stream.finish(&mut out);
        out
    }

    #[test]
    fn only_what_could_begin_a_secret_is_held_back() {
        let set = SecretSet::new(["hunter2-token"]);
        let mut stream = set.stream();
        let mut out = Vec::new();
        stream.push(b"token: hunter2-token\n", &mut out);
        assert_eq!(out, b"token: ***\n", "the line's end came at once");
        out.clear();
        stream.push(b"next: hunt", &mut out);
        assert_eq!(out, b"next: ");
        stream.push(b"er2-token!", &mut out);
        stream.finish(&mut out);
        assert_eq!(out, b"next: ***!");
    }

    #[test]
    fn masks_a_secret_split_at_every_offset() {
        let set = SecretSet::new(["hunter2-token", "abcd"]);
        let text = b"login hunter2-token then abcd and abc done";
        for split in 0..=text.len() {
            assert_eq!(
                masked_in_two(&set, text, split),
                b"login *** then *** and abc done",
                "split at {split}"
            );
        }
    }

    #[test]
    fn byte_at_a_time() {
        let set = SecretSet::new(["s3cr3t"]);
        let mut stream = set.stream();
        let mut out = Vec::new();
        for b in b"xs3cr3ts3cr3t\n" {
            stream.push(&[*b], &mut out);
        }
        stream.finish(&mut out);
        assert_eq!(out, b"x******\n");
    }

    #[test]
    fn multi_line_secret_masked_line_by_line() {
        let set = SecretSet::new(["-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----"]);
        assert_eq!(set.mask_str("key: MIIEabcdef"), "key: ***");
    }

    #[test]
    fn no_secrets_passes_through() {
        let set = SecretSet::new(Vec::<String>::new());
        assert!(set.is_empty());
        assert_eq!(masked_in_two(&set, b"plain", 2), b"plain");
    }

    #[test]
    fn add_mask_one_line_each_with_escapes() {
        let set = SecretSet::new(["100%sure", "line-one\nline-two"]);
        let commands = set.add_mask_commands();
        assert!(commands.contains("::add-mask::100%25sure\n"));
        assert!(commands.contains("::add-mask::line-one\n"));
        assert!(commands.contains("::add-mask::line-two\n"));
        assert!(!commands.contains("line-one\nline-two"));
    }

    /// The masking stream alone, without pipes or files: 1 GiB of log lines
    /// in 64 KiB chunks with no secrets and with 20 (bench/masking.sh
    /// measures the whole log path).
    #[test]
    #[ignore = "a benchmark: cargo test --release --lib mask_stream_throughput -- --ignored --nocapture"]
    fn mask_stream_throughput() {
        let line: &[u8] = b"INFO request handled in 12ms: GET /api/v1/items?page=3 status=200 bytes=5120 user=alice\n";
        let chunk = line.repeat(64 * 1024 / line.len());
        let secrets: Vec<String> = (0..20)
            .map(|i| format!("tok{i:02}-x7Qp9Lm2Zr4Wv8Ks"))
            .collect();
        let rounds = (1usize << 30) / chunk.len();
        for (label, set) in [
            ("none", SecretSet::default()),
            ("20 secrets", SecretSet::new(&secrets)),
        ] {
            let mut stream = set.stream();
            let mut out = Vec::with_capacity(chunk.len() + 64);
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                out.clear();
                stream.push(&chunk, &mut out);
                std::hint::black_box(&out);
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{label:>10}: {:.0} MiB/s",
                (rounds * chunk.len()) as f64 / 1048576.0 / secs
            );
        }
    }

    proptest::proptest! {
        /// Secrets and text from a small alphabet, so that secrets overlap,
        /// nest and run into each other; the text cut anywhere.
        #[test]
        fn any_cuts_mask_as_the_whole_text_does(
            secrets in proptest::collection::vec("[ab\n]{1,5}", 1..4),
            text in "[abc\n]{0,40}",
            cuts in proptest::collection::vec(0usize..=40, 0..6),
        ) {
            let set = SecretSet::new(&secrets);
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= text.len()).collect();
            cuts.sort_unstable();
            cuts.push(text.len());
            let (mut stream, mut out, mut at) = (set.stream(), Vec::new(), 0);
            for cut in cuts {
                stream.push(&text.as_bytes()[at..cut], &mut out);
                at = cut;
            }
            stream.finish(&mut out);
            let out = String::from_utf8(out).expect("masking keeps UTF-8");
            proptest::prop_assert_eq!(&out, &set.mask_str(&text));
            for secret in set.patterns.iter() {
                proptest::prop_assert!(!out.contains(secret.as_str()), "{secret:?} in {out:?}");
            }
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let set = SecretSet::new(["topsecret"]);
        assert!(!format!("{set:?}").contains("topsecret"));
    }
}
