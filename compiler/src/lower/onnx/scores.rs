//! What a classifier operator writes as its scores, from its margins: onnxruntime's
//! `post_transform`, and its binary case, where one margin becomes two scores.

use super::translate::{Operand, Translator, Value, unsupported};
use crate::ir::{BinaryFn, Op, Ty, UnaryFn};
use pipec_forest::ScoreTransform;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    pub fn parse(value: Option<&str>) -> Result<PostTransform, String> {
        Ok(match value.unwrap_or("NONE") {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            other => return Err(format!("unknown post_transform `{other}`")),
        })
    }
}

/// `transform` applied to the margins (the tree ensembles' rules use it too).
pub(super) fn apply(t: &mut Translator, margins: &Value, transform: ScoreTransform) -> Result<Value, String> {
    Ok(match transform {
        ScoreTransform::None => margins.clone(),
        ScoreTransform::Logistic => t.unary(UnaryFn::Sigmoid, margins),
        ScoreTransform::Softmax => t.softmax(margins),
        ScoreTransform::Probit => return Err(unsupported("post_transform PROBIT")),
    })
}

/// A LinearClassifier's scores: with one row of coefficients and two labels, onnxruntime
/// writes `[1 - p, p]`, where `p` is the margin itself, or its logistic under LOGISTIC
/// (SOFTMAX and SOFTMAX_ZERO leave a single margin as it is); otherwise `post` over all.
pub(super) fn classifier_scores(
    t: &mut Translator,
    margins: &Value,
    labels: usize,
    post: PostTransform,
) -> Result<Value, String> {
    if margins.width() == 1 && labels == 2 {
        let p = match post {
            PostTransform::None | PostTransform::Softmax | PostTransform::SoftmaxZero => margins.clone(),
            PostTransform::Logistic => t.unary(UnaryFn::Sigmoid, margins),
            PostTransform::Probit => return Err(unsupported("post_transform PROBIT")),
        };
        return complement_pair(t, &p);
    }
    let transform = match post {
        PostTransform::None => ScoreTransform::None,
        PostTransform::Logistic => ScoreTransform::Logistic,
        PostTransform::Softmax => ScoreTransform::Softmax,
        PostTransform::Probit => ScoreTransform::Probit,
        PostTransform::SoftmaxZero => return Err(unsupported("post_transform SOFTMAX_ZERO")),
    };
    apply(t, margins, transform)
}

/// `[1 - p, p]` from a width-1 `p`.
pub(super) fn complement_pair(t: &mut Translator, p: &Value) -> Result<Value, String> {
    let one = t.const_row(vec![1.0]);
    let q = t.binary(BinaryFn::Sub, Operand::Value(Value { id: one, dims: Vec::new() }), Operand::Value(p.clone()))?;
    let id = t.push(Op::Concat { parts: vec![q.id, p.id] }, Ty::F32(2));
    Ok(Value { id, dims: vec![2] })
}
