//! Building manifests as YAML values, and writing them.
//!
//! Manifests are built as `serde_yaml_ng::Value`s, whose mappings keep insertion order, so
//! every file lists `apiVersion`, `kind`, `metadata`, `spec` and a container's `name` first,
//! as people write them, and the same input always gives the same bytes. `serde_yaml_ng`
//! writes YAML 1.2: it quotes a string that YAML 1.2 would read as a number, a boolean or
//! null, but not the YAML 1.1 forms that kubectl's reader (go-yaml v2) still takes for
//! booleans or integers (`yes`, `on`, `n`, `1_000`, `0b1`). [`render`] refuses any such
//! string rather than write a file that kubectl would read differently.

use anyhow::{Result, bail};
use serde_yaml_ng::{Mapping, Value};

/// A mapping with these entries, in this order.
pub(crate) fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    let mut mapping = Mapping::new();
    for (key, value) in entries {
        mapping.insert(Value::String(key.to_string()), value);
    }
    Value::Mapping(mapping)
}

/// A mapping of strings to strings (labels, annotations, selectors, trigger metadata).
pub(crate) fn string_map<K: AsRef<str>, V: AsRef<str>>(entries: &[(K, V)]) -> Value {
    let mut mapping = Mapping::new();
    for (key, value) in entries {
        mapping.insert(str(key.as_ref()), str(value.as_ref()));
    }
    Value::Mapping(mapping)
}

/// Appends `key: value` to a mapping (built by [`map`]).
pub(crate) fn push(target: &mut Value, key: &str, value: Value) {
    match target {
        Value::Mapping(mapping) => {
            mapping.insert(Value::String(key.to_string()), value);
        }
        _ => unreachable!("push on a value that is not a mapping"),
    }
}

pub(crate) fn str(value: &str) -> Value {
    Value::String(value.to_string())
}

pub(crate) fn int(value: i64) -> Value {
    Value::Number(value.into())
}

pub(crate) fn boolean(value: bool) -> Value {
    Value::Bool(value)
}

pub(crate) fn seq(items: Vec<Value>) -> Value {
    Value::Sequence(items)
}

/// One file: each header line as a `#` comment, then the document.
pub(crate) fn render(header: &[String], document: &Value) -> Result<String> {
    check_strings(document, "")?;
    let mut text = String::new();
    for line in header {
        if line.is_empty() {
            text.push_str("#\n");
        } else {
            text.push_str("# ");
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&serde_yaml_ng::to_string(document)?);
    Ok(text)
}

/// Every string (keys included) must read back as the same string in YAML 1.1 as well.
fn check_strings(value: &Value, path: &str) -> Result<()> {
    match value {
        Value::String(text) => check_string(text, path),
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                check_strings(item, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        Value::Mapping(mapping) => {
            for (key, item) in mapping {
                let name = key.as_str().unwrap_or("?");
                check_strings(key, path)?;
                check_strings(item, &format!("{path}.{name}"))?;
            }
            Ok(())
        }
        Value::Tagged(tagged) => check_strings(&tagged.value, path),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_string(text: &str, path: &str) -> Result<()> {
    if yaml11_non_string(text) && !written_quoted(text) {
        bail!(
            "the value {text:?} (at {}) would be read as a boolean or a number by YAML 1.1 readers \
             such as kubectl; choose another (for a name, --model-name)",
            if path.is_empty() { "a key" } else { path.trim_start_matches('.') }
        );
    }
    Ok(())
}

/// Whether go-yaml v2 (kubectl, through sigs.k8s.io/yaml) resolves this plain scalar to
/// something other than a string: its booleans, and integers as Go's `ParseInt(s, 0, 64)`
/// reads them once underscores are removed (`1_000`, `0b101`, `0o17`, `0x1F`).
pub(crate) fn yaml11_non_string(text: &str) -> bool {
    const BOOLEANS: [&str; 22] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ];
    if BOOLEANS.contains(&text) {
        return true;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text).replace('_', "");
    let lower = unsigned.to_ascii_lowercase();
    let (digits, radix) = if let Some(rest) = lower.strip_prefix("0x") {
        (rest, 16)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (rest, 8)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (rest, 2)
    } else {
        (lower.as_str(), 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// Whether `serde_yaml_ng` writes this string quoted.
fn written_quoted(text: &str) -> bool {
    serde_yaml_ng::to_string(text).map(|out| out.starts_with(['\'', '"'])).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_keep_their_order_and_strings_that_look_like_numbers_are_quoted() {
        let doc =
            map([("kind", str("Service")), ("apiVersion", str("v1")), ("port", str("8080")), ("number", int(8080))]);
        let text = render(&["generated".to_string(), String::new()], &doc).unwrap();
        assert_eq!(text, "# generated\n#\nkind: Service\napiVersion: v1\nport: '8080'\nnumber: 8080\n");
    }

    #[test]
    fn yaml_1_1_booleans_and_underscored_numbers_are_refused() {
        for bad in ["yes", "on", "N", "Off", "1_000", "+1_0"] {
            let err = render(&[], &map([("name", str(bad))])).unwrap_err().to_string();
            assert!(err.contains("YAML 1.1"), "{bad}: {err}");
        }
        // Quoted by serde_yaml_ng already, or plain strings in both versions.
        for good in ["true", "0x10", "0b101", "1", "1.0.0", "titanic", "2024-01-01", "--port=8080", "50m", "1Gi", "1e3"]
        {
            render(&[], &map([("name", str(good))])).unwrap();
        }
    }

    #[test]
    fn rendered_yaml_reads_back_the_same() {
        let doc = map([
            ("a", seq(vec![str("--model-name={{.Name}}"), str("0.05")])),
            ("b", string_map(&[("prometheus.io/port", "8080"), ("prometheus.io/scrape", "true")])),
            ("c", boolean(false)),
        ]);
        let text = render(&[], &doc).unwrap();
        let back: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(back, doc);
    }
}
