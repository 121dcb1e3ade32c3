//! Reading the artifact files a `.pipe` file names: weights (safetensors), statistics and
//! vocabularies (JSON). Errors are typed here and become diagnostics in `lower`.
//!
//! Lowering reads each file once through `Lowerer::read_artifact_at`, which records its bytes
//! for the build identity (`crate::identity`), and parses them with the `parse_*` functions;
//! nothing here opens a file but [`read_bytes`], which only that method calls.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read `{path}`: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a valid {format} file: {reason}")]
    Invalid { path: PathBuf, format: &'static str, reason: String },
}

impl ArtifactError {
    /// The diagnostic code: E0301 for a file that cannot be read, E0302 for bad content.
    pub fn code(&self) -> &'static str {
        match self {
            ArtifactError::Unreadable { .. } => "E0301",
            ArtifactError::Invalid { .. } => "E0302",
        }
    }

    fn invalid(path: &Path, format: &'static str, reason: impl Into<String>) -> Self {
        ArtifactError::Invalid { path: path.to_path_buf(), format, reason: reason.into() }
    }
}

/// The bytes of the file at `path`.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, ArtifactError> {
    std::fs::read(path).map_err(|source| ArtifactError::Unreadable { path: path.to_path_buf(), source })
}

/// A 1- or 2-dimensional f32 tensor read from a weight file.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// All tensors of a safetensors file's `bytes`, by name (F32 and F64 are accepted; F64 is
/// rounded); `path` is named in errors.
pub fn parse_safetensors(
    path: &Path,
    bytes: &[u8],
) -> Result<std::collections::BTreeMap<String, WeightTensor>, ArtifactError> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| ArtifactError::invalid(path, "safetensors", e.to_string()))?;
    let mut tensors = std::collections::BTreeMap::new();
    for (name, view) in file.tensors() {
        let data = match view.dtype() {
            safetensors::Dtype::F32 => {
                view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
            }
            safetensors::Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
                .collect(),
            other => {
                return Err(ArtifactError::invalid(
                    path,
                    "safetensors",
                    format!("tensor `{name}` has dtype {other:?}; pipec reads F32 and F64"),
                ));
            }
        };
        tensors.insert(name, WeightTensor { shape: view.shape().to_vec(), data });
    }
    Ok(tensors)
}

/// Parses a JSON object of named f32 lists, e.g. `{"mean": [...], "std": [...]}`, read from
/// `path` (named in errors), and returns the lists named in `keys`, in that order.
pub fn parse_stats(path: &Path, bytes: &[u8], keys: &[&str]) -> Result<Vec<Vec<f32>>, ArtifactError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ArtifactError::invalid(path, "JSON", e.to_string()))?;
    keys.iter()
        .map(|key| {
            let list = value
                .get(key)
                .and_then(|v| v.as_array())
                .ok_or_else(|| ArtifactError::invalid(path, "statistics", format!("no list `{key}`")))?;
            list.iter()
                .map(|v| {
                    v.as_f64().map(|f| f as f32).ok_or_else(|| {
                        ArtifactError::invalid(path, "statistics", format!("`{key}` holds a non-number: {v}"))
                    })
                })
                .collect()
        })
        .collect()
}

/// Statistics read from a safetensors file (see [`parse_safetensors_stats`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SafetensorsStats {
    /// The lists asked for, in order.
    pub lists: Vec<Vec<f32>>,
    /// The tensors they came from.
    pub used: Vec<String>,
    /// Every tensor of the file.
    pub all: Vec<String>,
}

/// Statistics kept beside a model's weights, as PyTorch and scikit-learn exports often do:
/// the 1-dimensional (or `[1, n]`) tensors named by `keys`, where `std` may also be `scale`
/// (scikit-learn's `StandardScaler.scale_`) and `min`/`max` `data_min`/`data_max`; a tensor
/// named with a prefix (`scaler.mean`) is found when it is the only one of that name.
pub fn parse_safetensors_stats(path: &Path, bytes: &[u8], keys: &[&str]) -> Result<SafetensorsStats, ArtifactError> {
    let tensors = parse_safetensors(path, bytes)?;
    let all: Vec<String> = tensors.keys().cloned().collect();
    let mut lists = Vec::with_capacity(keys.len());
    let mut used = Vec::with_capacity(keys.len());
    for key in keys {
        let aliases: &[&str] = match *key {
            "std" => &["std", "scale"],
            "min" => &["min", "data_min"],
            "max" => &["max", "data_max"],
            _ => std::slice::from_ref(key),
        };
        let found = aliases.iter().find_map(|alias| {
            if tensors.contains_key(*alias) {
                return Some(alias.to_string());
            }
            let suffix = format!(".{alias}");
            let mut prefixed = all.iter().filter(|name| name.ends_with(&suffix));
            match (prefixed.next(), prefixed.next()) {
                (Some(name), None) => Some(name.clone()),
                _ => None,
            }
        });
        let Some(name) = found else {
            return Err(ArtifactError::invalid(
                path,
                "statistics",
                format!("no tensor `{}` (it holds {})", aliases.join("` or `"), quoted_list(&all)),
            ));
        };
        let tensor = &tensors[&name];
        let vector = tensor.shape.len() == 1 || (tensor.shape.len() == 2 && tensor.shape[0] == 1);
        if !vector {
            return Err(ArtifactError::invalid(
                path,
                "statistics",
                format!("tensor `{name}` has shape {:?}; expected a vector", tensor.shape),
            ));
        }
        lists.push(tensor.data.clone());
        used.push(name);
    }
    Ok(SafetensorsStats { lists, used, all })
}

fn quoted_list(names: &[String]) -> String {
    if names.is_empty() {
        return "no tensors".into();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Parses a vocabulary, a JSON array of strings, read from `path` (named in errors).
pub fn parse_vocab(path: &Path, bytes: &[u8]) -> Result<Vec<String>, ArtifactError> {
    serde_json::from_slice::<Vec<String>>(bytes)
        .map_err(|e| ArtifactError::invalid(path, "vocabulary (a JSON array of strings)", e.to_string()))
}
