//! The one-row MLP benchmark (`pipec-bench --mlps true`): pipec's generated typed `score`
//! against a hand-written Rust port of the same model, MLPs with hidden layers from 8 to 256
//! wide (the fixtures `tests/fixtures/mlp8`, `mlp30`, `mlp64`, `mlp256`: standardized inputs,
//! ReLU, a sigmoid output) and the examples' ports, timed in turn in one process.
//!
//! The hand port is what a careful engineer writes for speed: const-size arrays, weights
//! stored `[in][out]` so that each layer is `acc[j] += x[k] * w[k][j]` with k outer and j
//! inner (independent sums over the outputs, vectorised), the bias added after, ReLU in place,
//! and the one-output layer as a dot product in 8 partial sums. It standardizes explicitly
//! (pipec folds the scaler into the first layer). It reads the fixture's own files.

use crate::hand_port::{floats, read_json, safetensors};
use crate::{record, seconds_per_call};
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// A hand-written `I`-`H1`-`H2`-1 MLP: standardize, two ReLU layers, a sigmoid output.
pub struct Mlp<const I: usize, const H1: usize, const H2: usize> {
    mean: [f32; I],
    inv_std: [f32; I],
    w0: Box<[[f32; H1]; I]>,
    b0: Box<[f32; H1]>,
    w1: Box<[[f32; H2]; H1]>,
    b1: Box<[f32; H2]>,
    w2: Box<[f32; H2]>,
    b2: f32,
}

/// A PyTorch-layout `[out, in]` weight, transposed to boxed `[in][out]` rows.
fn transposed<const I: usize, const O: usize>(t: &(Vec<usize>, Vec<f32>)) -> Result<Box<[[f32; O]; I]>, String> {
    if t.0 != [O, I] || t.1.len() != O * I {
        return Err(format!("weight shape {:?}, expected [{O}, {I}]", t.0));
    }
    let rows: Vec<[f32; O]> = (0..I).map(|i| std::array::from_fn(|o| t.1[o * I + i])).collect();
    rows.into_boxed_slice().try_into().map_err(|_| "weight rows".to_string())
}

fn boxed<const N: usize>(t: &(Vec<usize>, Vec<f32>)) -> Result<Box<[f32; N]>, String> {
    t.1.clone().into_boxed_slice().try_into().map_err(|_| format!("{} values, expected {N}", t.1.len()))
}

fn array<const N: usize>(values: &[f32], what: &str) -> Result<[f32; N], String> {
    values.try_into().map_err(|_| format!("{what}: {} values, expected {N}", values.len()))
}

/// `x · w + b` with `w` stored `[in][out]`: k outer, j inner, then the bias.
#[inline(always)]
fn dense<const I: usize, const O: usize>(w: &[[f32; O]; I], b: &[f32; O], x: &[f32; I]) -> [f32; O] {
    let mut acc = [0.0f32; O];
    for k in 0..I {
        let xk = x[k];
        let wk = &w[k];
        for j in 0..O {
            acc[j] += xk * wk[j];
        }
    }
    for j in 0..O {
        acc[j] += b[j];
    }
    acc
}

/// `x · w` in 8 partial sums (lane `l` takes every eighth product), combined pairwise.
#[inline(always)]
fn dot8<const N: usize>(w: &[f32; N], x: &[f32; N]) -> f32 {
    let mut p = [0.0f32; 8];
    for c in 0..N / 8 {
        for l in 0..8 {
            p[l] += x[c * 8 + l] * w[c * 8 + l];
        }
    }
    for k in N / 8 * 8..N {
        p[k % 8] += x[k] * w[k];
    }
    ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
}

#[inline(always)]
fn relu<const N: usize>(mut x: [f32; N]) -> [f32; N] {
    for v in &mut x {
        *v = v.max(0.0);
    }
    x
}

impl<const I: usize, const H1: usize, const H2: usize> Mlp<I, H1, H2> {
    /// Reads `mlp.safetensors` (`layers.{0,1,2}.weight` `[out, in]` and `.bias`) and
    /// `stats.json` (`mean`, `std`) from a fixture folder.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let stats = read_json(&dir.join("stats.json"))?;
        let mean: [f32; I] = array(&floats(&stats, "mean"), "mean")?;
        let std: [f32; I] = array(&floats(&stats, "std"), "std")?;
        let t = safetensors(&dir.join("mlp.safetensors"))?;
        let get = |name: &str| t.get(name).ok_or(format!("no tensor {name}"));
        let w2 = get("layers.2.weight")?;
        if w2.0 != [1, H2] {
            return Err(format!("output weight shape {:?}, expected [1, {H2}]", w2.0));
        }
        let b2 = get("layers.2.bias")?.1.first().copied().ok_or("no output bias")?;
        Ok(Mlp {
            mean,
            inv_std: std.map(|s| 1.0 / s),
            w0: transposed(get("layers.0.weight")?)?,
            b0: boxed(get("layers.0.bias")?)?,
            w1: transposed(get("layers.1.weight")?)?,
            b1: boxed(get("layers.1.bias")?)?,
            w2: boxed(w2)?,
            b2,
        })
    }

    /// The probability of the positive class.
    #[inline]
    pub fn predict(&self, x: &[f32; I]) -> f32 {
        let mut z = [0.0f32; I];
        for i in 0..I {
            z[i] = (x[i] - self.mean[i]) * self.inv_std[i];
        }
        let h0 = relu(dense(&self.w0, &self.b0, &z));
        let h1 = relu(dense(&self.w1, &self.b1, &h0));
        let logit = dot8(&self.w2, &h1) + self.b2;
        1.0 / (1.0 + (-logit).exp())
    }
}

/// The held-out rows of a fixture's `reference_pipe.json` (its input `x`), as `[f32; N]`.
pub fn reference_rows<const N: usize>(dir: &Path) -> Result<Vec<[f32; N]>, String> {
    let json = read_json(&dir.join("reference_pipe.json"))?;
    let rows = json["inputs"]["x"].as_array().ok_or("reference_pipe.json: no inputs.x")?;
    rows.iter()
        .map(|row| {
            let values: Vec<f32> = row
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).map(|v| v as f32).collect())
                .unwrap_or_default();
            array(&values, "reference row")
        })
        .collect()
}

/// One line of the table: nanoseconds per row of pipec and of the hand port.
pub struct Comparison {
    pub name: String,
    pub pipec_ns: f64,
    pub hand_ns: f64,
}

/// Checks that `pipec` and `hand` agree within 1e-5 on every row index below `rows`, then
/// times each over the rows in turn, alternating `rounds` times (each a median of 5 rounds,
/// [`seconds_per_call`]), and returns the medians; prints one JSON line per engine.
pub fn compare(
    name: &str,
    rows: usize,
    budget: Duration,
    rounds: usize,
    mut pipec: impl FnMut(usize) -> f32,
    mut hand: impl FnMut(usize) -> f32,
) -> Result<Comparison, String> {
    for r in 0..rows {
        let (a, b) = (pipec(r), hand(r));
        if (a - b).abs() > 1e-5 || a.is_nan() != b.is_nan() {
            return Err(format!("{name}, row {r}: the hand port gives {b}, pipec {a}"));
        }
    }
    let (mut pipec_s, mut hand_s) = (Vec::new(), Vec::new());
    let mut next = 0usize;
    for _ in 0..rounds.max(1) {
        pipec_s.push(seconds_per_call(budget, || {
            next = if next + 1 == rows { 0 } else { next + 1 };
            black_box(pipec(black_box(next)));
        }));
        hand_s.push(seconds_per_call(budget, || {
            next = if next + 1 == rows { 0 } else { next + 1 };
            black_box(hand(black_box(next)));
        }));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (p, h) = (median(&mut pipec_s), median(&mut hand_s));
    println!("{}", record(name, "all-passes", "pipec-native-row", 1, p));
    println!("{}", record(name, "hand-written", "hand-port-rust", 1, h));
    Ok(Comparison { name: name.to_string(), pipec_ns: p * 1e9, hand_ns: h * 1e9 })
}

/// The table `compare`'s results make, as Markdown.
pub fn table(results: &[Comparison]) -> String {
    let mut out = String::from("| model | pipec score | hand port | pipec / hand |\n| --- | ---: | ---: | ---: |\n");
    for c in results {
        out +=
            &format!("| {} | {:.1} ns | {:.1} ns | {:.2}x |\n", c.name, c.pipec_ns, c.hand_ns, c.pipec_ns / c.hand_ns);
    }
    out
}
