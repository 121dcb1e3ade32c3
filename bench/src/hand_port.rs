//! The examples ported to Rust by hand, as a careful engineer would for speed: fixed-size
//! arrays, weights in the layout the loops read, loops with constant bounds the compiler can
//! vectorise, no allocation per row. They read the same exported files (safetensors, JSON)
//! the `.pipe` files name, and are checked against the examples' scikit-learn references.

use serde_json::Value;
use std::path::Path;

/// A safetensors file's f32 tensors: name -> (shape, values).
type Tensors = std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Reads every f32 tensor of a safetensors file.
pub(crate) fn safetensors(path: &Path) -> Result<Tensors, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = u64::from_le_bytes(bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or("short file")?) as usize;
    let header: Value =
        serde_json::from_slice(bytes.get(8..8 + n).ok_or("short header")?).map_err(|e| e.to_string())?;
    let data = &bytes[8 + n..];
    let mut out = std::collections::HashMap::new();
    for (name, info) in header.as_object().ok_or("bad header")? {
        if name == "__metadata__" {
            continue;
        }
        let shape: Vec<usize> =
            info["shape"].as_array().ok_or("shape")?.iter().filter_map(Value::as_u64).map(|d| d as usize).collect();
        let offsets: Vec<usize> = info["data_offsets"]
            .as_array()
            .ok_or("offsets")?
            .iter()
            .filter_map(Value::as_u64)
            .map(|d| d as usize)
            .collect();
        let raw = data.get(offsets[0]..offsets[1]).ok_or("offsets out of range")?;
        let values = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.insert(name.clone(), (shape, values));
    }
    Ok(out)
}

pub(crate) fn floats(json: &Value, key: &str) -> Vec<f32> {
    json[key].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|v| v as f32).collect()).unwrap_or_default()
}

pub(crate) fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A `[out, in]` PyTorch-layout weight as fixed-size rows.
fn rows<const O: usize, const I: usize>(t: &(Vec<usize>, Vec<f32>)) -> Result<[[f32; I]; O], String> {
    if t.0 != [O, I] {
        return Err(format!("weight shape {:?}, expected [{O}, {I}]", t.0));
    }
    Ok(std::array::from_fn(|o| std::array::from_fn(|i| t.1[o * I + i])))
}

fn vector<const N: usize>(t: &(Vec<usize>, Vec<f32>)) -> Result<[f32; N], String> {
    if t.1.len() != N {
        return Err(format!("{} values, expected {N}", t.1.len()));
    }
    Ok(std::array::from_fn(|i| t.1[i]))
}

#[inline(always)]
fn dense<const O: usize, const I: usize>(w: &[[f32; I]; O], b: &[f32; O], x: &[f32; I]) -> [f32; O] {
    std::array::from_fn(|o| {
        let mut acc = b[o];
        for i in 0..I {
            acc += w[o][i] * x[i];
        }
        acc
    })
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `examples/titanic`: impute age, log1p, standardize, one-hot sex and class, MLP 8-16-8-1.
pub struct Titanic {
    mean: [f32; 3],
    inv_std: [f32; 3],
    w0: [[f32; 8]; 16],
    b0: [f32; 16],
    w1: [[f32; 16]; 8],
    b1: [f32; 8],
    w2: [[f32; 8]; 1],
    b2: [f32; 1],
}

impl Titanic {
    pub fn load(dir: &Path) -> Result<Titanic, String> {
        let stats = read_json(&dir.join("stats.json"))?;
        let (mean, std) = (floats(&stats, "mean"), floats(&stats, "std"));
        let t = safetensors(&dir.join("mlp.safetensors"))?;
        let get = |name: &str| t.get(name).ok_or(format!("no tensor {name}"));
        Ok(Titanic {
            mean: std::array::from_fn(|i| mean[i]),
            inv_std: std::array::from_fn(|i| 1.0 / std[i]),
            w0: rows(get("layers.0.weight")?)?,
            b0: vector(get("layers.0.bias")?)?,
            w1: rows(get("layers.1.weight")?)?,
            b1: vector(get("layers.1.bias")?)?,
            w2: rows(get("layers.2.weight")?)?,
            b2: vector(get("layers.2.bias")?)?,
        })
    }

    /// The probability of survival.
    #[inline]
    pub fn predict(&self, age: f32, sibsp: f32, parch: f32, sex: &str, pclass: &str) -> f32 {
        let age = if age.is_nan() { 28.0 } else { age };
        let raw = [age, sibsp.ln_1p(), parch.ln_1p()];
        let mut x = [0.0f32; 8];
        for i in 0..3 {
            x[i] = (raw[i] - self.mean[i]) * self.inv_std[i];
        }
        match sex {
            "female" => x[3] = 1.0,
            "male" => x[4] = 1.0,
            _ => {}
        }
        match pclass {
            "1st" => x[5] = 1.0,
            "2nd" => x[6] = 1.0,
            "3rd" => x[7] = 1.0,
            _ => {}
        }
        let h0 = dense(&self.w0, &self.b0, &x).map(|v| v.max(0.0));
        let h1 = dense(&self.w1, &self.b1, &h0).map(|v| v.max(0.0));
        sigmoid(dense(&self.w2, &self.b2, &h1)[0])
    }
}

/// `examples/chain`: min-max + one-hot into a logistic model, whose probability joins the
/// standardized inputs in an MLP 5-8-1 (tanh).
pub struct Chain {
    min: [f32; 2],
    inv_range: [f32; 2],
    mean: [f32; 2],
    inv_std: [f32; 2],
    w1: [[f32; 4]; 1],
    b1: [f32; 1],
    w2a: [[f32; 5]; 8],
    b2a: [f32; 8],
    w2b: [[f32; 8]; 1],
    b2b: [f32; 1],
}

impl Chain {
    pub fn load(dir: &Path) -> Result<Chain, String> {
        let minmax = read_json(&dir.join("stage1_minmax.json"))?;
        let stats = read_json(&dir.join("stage2_stats.json"))?;
        let (min, max) = (floats(&minmax, "min"), floats(&minmax, "max"));
        let (mean, std) = (floats(&stats, "mean"), floats(&stats, "std"));
        let s1 = safetensors(&dir.join("stage1.safetensors"))?;
        let s2 = safetensors(&dir.join("stage2.safetensors"))?;
        let get1 = |name: &str| s1.get(name).ok_or(format!("no tensor {name}"));
        let get2 = |name: &str| s2.get(name).ok_or(format!("no tensor {name}"));
        Ok(Chain {
            min: std::array::from_fn(|i| min[i]),
            inv_range: std::array::from_fn(|i| 1.0 / (max[i] - min[i])),
            mean: std::array::from_fn(|i| mean[i]),
            inv_std: std::array::from_fn(|i| 1.0 / std[i]),
            w1: rows(get1("weight")?)?,
            b1: vector(get1("bias")?)?,
            w2a: rows(get2("layers.0.weight")?)?,
            b2a: vector(get2("layers.0.bias")?)?,
            w2b: rows(get2("layers.1.weight")?)?,
            b2b: vector(get2("layers.1.bias")?)?,
        })
    }

    /// (risk from stage 1, probability of default from stage 2).
    #[inline]
    pub fn predict(&self, balance: f32, income: f32, student: &str) -> (f32, f32) {
        let num = [balance, income];
        let (no, yes) = match student {
            "No" => (1.0, 0.0),
            "Yes" => (0.0, 1.0),
            _ => (0.0, 0.0),
        };
        let x1 = [(num[0] - self.min[0]) * self.inv_range[0], (num[1] - self.min[1]) * self.inv_range[1], no, yes];
        let risk = sigmoid(dense(&self.w1, &self.b1, &x1)[0]);
        let x2 = [(num[0] - self.mean[0]) * self.inv_std[0], (num[1] - self.mean[1]) * self.inv_std[1], risk, no, yes];
        let h = dense(&self.w2a, &self.b2a, &x2).map(f32::tanh);
        (risk, sigmoid(dense(&self.w2b, &self.b2b, &h)[0]))
    }
}
