//! A bounded fuzzer for request decoding (`oip.rs`'s `InferRequest::from_json`, then
//! `decode.rs`): valid JSON and binary requests, mutated both as JSON values (a node replaced
//! by a value of another kind, or by an extreme number: 2^60, -1, 1e300, huge shapes) and as
//! bytes (flips, cuts, splices), must each give `Ok` or an `ApiError` with status 400, never a
//! panic, and an `Ok` batch must hold exactly rows x width values per input.
//!
//! The interface and the invariants are `crate::fuzzing`'s, which the cargo-fuzz target
//! `decode_request` (`fuzz/`) checks too.
//!
//! `PIPEC_FUZZ_CASES` (default 256) sets the cases per seed and kind of mutation, as for the
//! front end's fuzz test; `PIPEC_FUZZ_SEED` another seed.

use super::decode::decode;
use super::oip::InferRequest;
use crate::fuzzing::{SPEC, decode_request};
use serde_json::{Value, json};

/// xorshift64*: enough for choosing mutations, and reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn cases() -> usize {
    std::env::var("PIPEC_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn seed() -> u64 {
    std::env::var("PIPEC_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_f00d) | 1
}

/// Valid requests: (JSON head, binary section).
fn seeds() -> Vec<(Value, Vec<u8>)> {
    let json_request = json!({
        "id": "r1",
        "inputs": [
            { "name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [4.5, -0.0, 1e-30]] },
            { "name": "n", "shape": [2], "datatype": "INT64", "data": [7, null] },
            { "name": "b", "shape": [2, 1], "datatype": "BOOL", "data": [true, false] },
            { "name": "s", "shape": [2], "datatype": "BYTES", "data": ["é", null] }
        ],
        "outputs": [{ "name": "a", "parameters": { "binary_data": true } }, { "name": "failed_checks" }],
        "parameters": { "binary_data_output": false }
    });
    let mut binary = Vec::new();
    for v in [1f32, 2.0, 3.0, 4.0, 5.0, 6.0] {
        binary.extend_from_slice(&v.to_le_bytes());
    }
    for v in [7i64, -8] {
        binary.extend_from_slice(&v.to_le_bytes());
    }
    binary.extend_from_slice(&[1, 0]);
    for s in ["ab", ""] {
        binary.extend_from_slice(&(s.len() as u32).to_le_bytes());
        binary.extend_from_slice(s.as_bytes());
    }
    let binary_request = json!({
        "inputs": [
            { "name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": { "binary_data_size": 24 } },
            { "name": "n", "shape": [2], "datatype": "INT64", "parameters": { "binary_data_size": 16 } },
            { "name": "b", "shape": [2], "datatype": "BOOL", "parameters": { "binary_data_size": 2 } },
            { "name": "s", "shape": [2], "datatype": "BYTES", "parameters": { "binary_data_size": 10 } }
        ],
        "parameters": { "binary_data_output": true }
    });
    vec![(json_request, Vec::new()), (binary_request, binary)]
}

/// Values that have broken decoders before: extremes, wrong kinds, deep nesting.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => json!(1u64 << 60),
        1 => json!(-1),
        2 => json!(1e300),
        3 => json!(i64::MIN),
        4 => json!(u64::MAX),
        5 => json!(0),
        6 => Value::Null,
        7 => json!("4"),
        8 => json!([]),
        9 => json!({}),
        10 => json!(true),
        11 => json!([1u64 << 31, 1u64 << 31, 1u64 << 31]),
        12 => json!([[[[[[1]]]]]]),
        13 => json!("FP64"),
        14 => json!(0.5),
        _ => json!("x".repeat(rng.below(300))),
    }
}

/// Replaces one node of `value` (chosen by a walk from the root) with an odd value, or
/// deletes or duplicates an array element.
fn mutate_value(value: &mut Value, rng: &mut Rng) {
    match value {
        Value::Object(map) if !map.is_empty() && rng.below(4) != 0 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            if let Some(child) = map.get_mut(key) {
                mutate_value(child, rng);
            }
        }
        Value::Array(items) if !items.is_empty() && rng.below(4) != 0 => {
            let i = rng.below(items.len());
            match rng.below(6) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    items.push(copy);
                }
                _ => mutate_value(&mut items[i], rng),
            }
        }
        _ => *value = odd_value(rng),
    }
}

fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..=rng.below(4) {
        if bytes.is_empty() {
            bytes.push(b'{');
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes.truncate(at),
            2 => {
                bytes.remove(at);
            }
            3 => bytes.insert(at, *b"{}[]\",:0-e9\\\x00\xff".get(rng.below(15)).unwrap_or(&b'0')),
            _ => {
                let from = rng.below(bytes.len());
                let piece: Vec<u8> = bytes[from..(from + rng.below(16)).min(bytes.len())].to_vec();
                bytes.splice(at..at, piece);
            }
        }
    }
}

/// Decodes one (head, binary) pair, as the HTTP handler does; panics only on a finding.
fn exercise(head: &[u8], binary: &[u8], what: &str) {
    let outcome = std::panic::catch_unwind(|| decode_request(head, binary));
    if let Err(panic) = outcome {
        let message =
            panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        panic!(
            "{what}: decoding panicked ({}) on head {:?} with {} binary bytes {:?}",
            message.unwrap_or_default(),
            String::from_utf8_lossy(head),
            binary.len(),
            &binary[..binary.len().min(64)]
        );
    }
}

#[test]
fn the_seeds_decode() {
    for (head, binary) in seeds() {
        let request = InferRequest::from_json(&serde_json::to_vec(&head).expect("json")).expect("a request");
        let decoded = decode(&SPEC, &request, &binary).expect("a valid seed");
        assert_eq!(decoded.batch.rows(), 2);
    }
}

#[test]
fn mutated_requests_are_answered_400_or_decoded_never_a_panic() {
    let mut rng = Rng(seed());
    for (index, (head, binary)) in seeds().into_iter().enumerate() {
        for case in 0..cases() * 8 {
            let mut value = head.clone();
            for _ in 0..=rng.below(3) {
                mutate_value(&mut value, &mut rng);
            }
            let bytes = serde_json::to_vec(&value).expect("json");
            exercise(&bytes, &binary, &format!("seed {index}, value mutation {case}"));
        }
        let bytes = serde_json::to_vec(&head).expect("json");
        for case in 0..cases() * 8 {
            let mut head = bytes.clone();
            let mut tail = binary.clone();
            if rng.below(2) == 0 {
                mutate_bytes(&mut head, &mut rng);
            } else {
                mutate_bytes(&mut tail, &mut rng);
            }
            exercise(&head, &tail, &format!("seed {index}, byte mutation {case}"));
        }
    }
}
