//! The build identity: one SHA-256 that changes whenever what a build computes may change.
//!
//! Hashed, in order: `b"pipec "`, the compiler's version, `b"\n"`, the `.pipe` source bytes,
//! then for every artifact file read while checking (weights, statistics, vocabularies, the
//! monitor reference), sorted by its path as written in the source: the path's bytes, a 0
//! byte, the file's length as a little-endian u64, and the file's bytes. A build with passes
//! switched off hashes that identity again with the names of those passes
//! ([`with_disabled`]), since it computes differently (rounding) from the full build.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The identity of a checked pipeline, as lowercase hex.
pub fn compute(source: &[u8], artifacts: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"pipec ");
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(b"\n");
    hasher.update(source);
    for (path, bytes) in artifacts {
        hasher.update(path.as_bytes());
        hasher.update([0u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

/// `identity` folded with the names of the disabled passes: SHA-256 (hex) of
/// `identity + ";disabled:" + names` (sorted, deduplicated, joined with `,`); `identity`
/// itself when `disabled` is empty.
pub fn with_disabled(identity: &str, disabled: &[crate::Pass]) -> String {
    if disabled.is_empty() {
        return identity.to_string();
    }
    let mut names: Vec<&str> = disabled.iter().map(|p| p.name()).collect();
    names.sort_unstable();
    names.dedup();
    let text = format!("{identity};disabled:{}", names.join(","));
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_as_documented() {
        let mut artifacts = BTreeMap::new();
        artifacts.insert("b.json".to_string(), b"[1]".to_vec());
        artifacts.insert("a.safetensors".to_string(), vec![1, 2]);
        let mut expected = Vec::new();
        expected.extend_from_slice(format!("pipec {}\n", env!("CARGO_PKG_VERSION")).as_bytes());
        expected.extend_from_slice(b"src");
        for (path, bytes) in [("a.safetensors", &[1u8, 2][..]), ("b.json", b"[1]")] {
            expected.extend_from_slice(path.as_bytes());
            expected.push(0);
            expected.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            expected.extend_from_slice(bytes);
        }
        assert_eq!(compute(b"src", &artifacts), hex(&Sha256::digest(&expected)));
        assert_eq!(compute(b"src", &artifacts).len(), 64);
        assert_eq!(with_disabled("abc", &[]), "abc");
        let d = with_disabled("abc", &[crate::Pass::Dce, crate::Pass::Cse, crate::Pass::Dce]);
        assert_eq!(d, hex(&Sha256::digest(b"abc;disabled:cse,dce")));
    }
}
