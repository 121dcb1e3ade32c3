//! How onnxruntime turns a tree ensemble's summed margins into its float output tensor,
//! as a rule the compiler lowers into a few elementwise operations.

/// A function applied to a row of scores. Every variant is elementwise except
/// [`ScoreTransform::Softmax`], which is taken over the whole row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreTransform {
    /// `out = s`.
    None,
    /// `out = 1 / (1 + exp(-s))` (onnxruntime: `ComputeLogistic` or MLAS's logistic, in f32).
    Logistic,
    /// `out[k] = exp(s[k] - max_j s[j]) / sum_j exp(s[j] - max_j s[j])` over the row
    /// (onnxruntime: `ComputeSoftmax`, in f32).
    Softmax,
    /// onnxruntime's `ComputeProbit`, an approximation of `sqrt(2) * erfinv(2 s - 1)`
    /// computed in f32: see [`onnx_probit`] for the exact steps. `s` outside `[0, 1]` gives
    /// NaN, `0` gives `-inf`, `1` gives `inf`.
    Probit,
}

/// How the forest's margins `m` (the f32 results of [`crate::Forest::predict_margins`], base
/// values included) become the operator's float output row.
///
/// Lowering with the compiler's operations (every constant is an f32):
/// - `Margins(t)`: `t` applied to `m` (as many outputs as margins).
/// - `NegatedPair(t)`: one margin; `concat(neg(m), m)`, then `t` over that pair
///   (`Logistic` gives `[sigmoid(-m), sigmoid(m)]`, `Softmax` the softmax of `[-m, m]`).
/// - `ComplementPair { logistic }`: one margin; `p = sigmoid(m)` when `logistic`, else
///   `p = m`; then `concat(sub(1, p), p)`.
/// - `ScoreTransform::Probit` on a value `s`: `y = 2 s - 1`; `w = (1 - y) * (1 + y)`;
///   `l = log(w)`; `v = C1 + 0.5 l`; `v3 = sqrt(v * v - C2 * l) - v`;
///   `out = sqrt(2) * sgn(y) * sqrt(v3)`, with the f32 constants
///   `C1 = 2 / (pi * 0.147)` and `C2 = 1 / 0.147` (each operation rounded to f32 as
///   onnxruntime does; [`onnx_probit`] is the reference). `sgn(y)` (onnxruntime: `-1` when
///   `y < 0`, else `1`) may be lowered as `div(y, max(abs(y), 2^-24))`: a nonzero `y = 2 s - 1`
///   is at least `2^-24` in magnitude, and at `y = 0` the factor `sqrt(v3)` is exactly 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreRule {
    /// One score per margin: `t(m)`.
    Margins(ScoreTransform),
    /// One margin, two scores: `t([-m, m])`.
    NegatedPair(ScoreTransform),
    /// One margin, two scores: `[1 - p, p]` with `p = logistic(m)` when `logistic`, else
    /// `p = m` (no other transform applies).
    ComplementPair { logistic: bool },
}

impl ScoreRule {
    /// Width of the output row for a forest with `margins` outputs.
    pub fn outputs(&self, margins: u32) -> u32 {
        match self {
            ScoreRule::Margins(_) => margins,
            ScoreRule::NegatedPair(_) | ScoreRule::ComplementPair { .. } => 2,
        }
    }

    /// The reference evaluation of the rule on one row of f32 margins. `Logistic` and
    /// `Softmax` are computed in f64 from the f32 values and rounded once (as
    /// [`crate::apply_objective`] does); onnxruntime computes them in f32, so the two agree
    /// within a few f32 ulps. `Probit` follows onnxruntime's f32 steps ([`onnx_probit`]).
    ///
    /// Panics when `margins.len()` or `out.len()` do not fit the rule (`out.len()` must be
    /// [`ScoreRule::outputs`] of `margins.len()`; the pair rules take one margin).
    pub fn apply(&self, margins: &[f32], out: &mut [f32]) {
        match *self {
            ScoreRule::Margins(t) => {
                assert_eq!(out.len(), margins.len(), "one score per margin");
                out.copy_from_slice(margins);
                transform(t, out);
            }
            ScoreRule::NegatedPair(t) => {
                assert!(margins.len() == 1 && out.len() == 2, "one margin, two scores");
                out[0] = -margins[0];
                out[1] = margins[0];
                transform(t, out);
            }
            ScoreRule::ComplementPair { logistic } => {
                assert!(margins.len() == 1 && out.len() == 2, "one margin, two scores");
                let p = if logistic { sigmoid(margins[0]) } else { margins[0] };
                out[0] = 1.0 - p;
                out[1] = p;
            }
        }
    }
}

fn sigmoid(m: f32) -> f32 {
    (1.0 / (1.0 + (-f64::from(m)).exp())) as f32
}

/// Applies `t` to a row in place (see [`ScoreRule::apply`] for the arithmetic).
pub(crate) fn transform(t: ScoreTransform, row: &mut [f32]) {
    match t {
        ScoreTransform::None => {}
        ScoreTransform::Logistic => row.iter_mut().for_each(|s| *s = sigmoid(*s)),
        ScoreTransform::Softmax => {
            let max = row.iter().fold(f64::NEG_INFINITY, |a, &s| a.max(f64::from(s)));
            let sum: f64 = row.iter().map(|&s| (f64::from(s) - max).exp()).sum();
            row.iter_mut().for_each(|s| *s = ((f64::from(*s) - max).exp() / sum) as f32);
        }
        ScoreTransform::Probit => row.iter_mut().for_each(|s| *s = onnx_probit(*s)),
    }
}

/// onnxruntime's `ComputeProbit` (`ml_common.h`): `sqrt(2) * ErfInv(2 s - 1)` with
/// `ErfInv` Winitzki's approximation (`a = 0.147`), every step in f32 as onnxruntime
/// computes it.
pub fn onnx_probit(s: f32) -> f32 {
    let y = 2.0f32 * s - 1.0;
    let sgn = if y < 0.0 { -1.0f32 } else { 1.0 };
    let w = (1.0f32 - y) * (1.0f32 + y);
    let l = w.ln();
    let v = 2.0f32 / (std::f32::consts::PI * 0.147f32) + 0.5f32 * l;
    let v2 = (1.0f32 / 0.147f32) * l;
    let v3 = -v + (v * v - v2).sqrt();
    std::f32::consts::SQRT_2 * (sgn * v3.sqrt())
}
