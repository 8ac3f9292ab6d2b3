//! Content hashing: the SHA-256 digests that name stimuli, stores and bundle files, so a stored
//! result is found again only for the same inputs. Below every layer (the model's random
//! re-draws, the stimuli's ids, the runner's store keys and provenance all use it).

use std::path::Path;

use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The first 16 hex digits (64 bits) of SHA-256.
pub fn short_hash(bytes: &[u8]) -> String {
    sha256_hex(bytes)[..16].to_owned()
}

/// A 64-bit seed derived from `text` (its short hash), `fallback` if that cannot be read: how
/// one audit seed becomes an independent stream per test or per weight tensor.
pub fn seed_from(text: &str, fallback: u64) -> u64 {
    u64::from_str_radix(&short_hash(text.as_bytes()), 16).unwrap_or(fallback)
}

/// SHA-256 of a file, streamed: (hex digest, bytes read).
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finalize()), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_sha256_test_vector() {
        // FIPS 180-2, "abc".
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(short_hash(b"abc"), "ba7816bf8f01cfea");
        assert_eq!(seed_from("abc", 0), 0xba78_16bf_8f01_cfea);
    }
}
