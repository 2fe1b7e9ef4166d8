//! Content digests: BLAKE3 for cache keys (fast, tree-parallel on big
//! files), SHA-256 for blobs because the Bazel remote cache layout names
//! `/cas/` entries by their SHA-256 and bazel-remote checks it on upload.

use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// Files at least this large are hashed with memory-mapping and rayon, which
/// BLAKE3 spreads over every core; smaller ones are read in one go.
const MMAP_FROM: u64 = 1 << 20;
/// Buffer for streaming copies: large enough that syscalls do not dominate.
pub(crate) const COPY_BUFFER: usize = 1 << 20;

/// Lower-case hexadecimal, as cache keys and blob ids are written.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The 32 bytes a 64-digit hex digest stands for.
pub(crate) fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

/// Whether `text` is a 64-digit lower-case hex digest: anything else from a
/// cache entry is refused before it becomes part of a path or a URL.
pub(crate) fn is_hex64(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The BLAKE3 hash of a file's content.
pub(crate) fn blake3_file(path: &Path, size: u64) -> io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    if size >= MMAP_FROM {
        hasher.update_mmap_rayon(path)?;
    } else {
        let bytes = std::fs::read(path)?;
        hasher.update(&bytes);
    }
    Ok(*hasher.finalize().as_bytes())
}

/// A blob's identity in the Bazel layout: SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct BlobId {
    pub(crate) sha256: String,
    pub(crate) size: u64,
}

/// Copies `reader` into `writer` while hashing, and says what went through.
pub(crate) fn copy_hashing(reader: &mut impl Read, writer: &mut impl Write) -> io::Result<BlobId> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buffer[..n]);
        writer.write_all(&buffer[..n])?;
        size += n as u64;
    }
    Ok(BlobId {
        sha256: hex(&hasher.finalize()),
        size,
    })
}

/// `copy_hashing` with reading and hashing on two threads: for large
/// downloads, where receiving from the network and SHA-256 each take a
/// core's worth of time, overlapping them nearly halves the wall time.
pub(crate) fn copy_hashing_overlapped(
    reader: &mut impl Read,
    writer: &mut (impl Write + Send),
) -> io::Result<BlobId> {
    const DEPTH: usize = 4;
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(DEPTH);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(DEPTH + 1);
    for _ in 0..=DEPTH {
        let _ = empty_tx.send(vec![0u8; COPY_BUFFER]);
    }
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || -> io::Result<BlobId> {
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            for (buffer, n) in full_rx {
                hasher.update(&buffer[..n]);
                writer.write_all(&buffer[..n])?;
                size += n as u64;
                let _ = empty_tx.send(buffer);
            }
            Ok(BlobId {
                sha256: hex(&hasher.finalize()),
                size,
            })
        });
        let produced = (|| -> io::Result<()> {
            for mut buffer in &empty_rx {
                let n = loop {
                    match reader.read(&mut buffer) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                if n == 0 || full_tx.send((buffer, n)).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let consumed = consumer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")));
        produced?;
        consumed
    })
}

/// The SHA-256 id of a file, reading it once.
pub(crate) fn sha256_file(path: &Path) -> io::Result<BlobId> {
    let mut file = File::open(path)?;
    copy_hashing(&mut file, &mut io::sink())
}

/// The SHA-256 id of bytes in memory.
pub(crate) fn sha256_bytes(bytes: &[u8]) -> BlobId {
    BlobId {
        sha256: hex(&Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

/// Standard base64 (RFC 4648, padded), for HTTP basic authentication.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(
            sha256_bytes(b"").sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(is_hex64(&sha256_bytes(b"x").sha256));
        assert!(!is_hex64("../../etc/passwd"));
        let id = sha256_bytes(b"x");
        assert_eq!(unhex32(&id.sha256).map(|b| hex(&b)), Some(id.sha256));
    }
}
