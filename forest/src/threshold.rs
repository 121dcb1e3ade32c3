//! Normalising each library's comparison to the tables' `x <= threshold` on f32, exactly.

/// The largest f32 strictly below `x` (`-0.0` and `0.0` both give the negative subnormal
/// closest to zero); `-inf` and NaN are returned unchanged.
pub fn next_down(x: f32) -> f32 {
    if x.is_nan() || x == f32::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f32::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 { f32::from_bits(bits - 1) } else { f32::from_bits(bits + 1) }
}

/// XGBoost's `x < t` as a table threshold `u`: for every f32 `x` that is not NaN,
/// `x < t` holds exactly when `x <= u` does.
///
/// `u` is the f32 just below `t`; for `t = 0.0` or `-0.0` that is the negative subnormal
/// closest to zero (so `-0.0` goes right, as `-0.0 < 0.0` is false). Nothing is below
/// `-inf`, and no f32 threshold makes `-inf <= u` false, so `t = -inf` (and `t = NaN`) give
/// NaN: `x <= NaN` is false for every `x`, which sends every value right, as XGBoost does.
pub fn f32_less_than(t: f32) -> f32 {
    if t == f32::NEG_INFINITY { f32::NAN } else { next_down(t) }
}

/// LightGBM's `(x as f64) <= t` as a table threshold: the largest f32 not above `t`
/// (`-inf` when `t` is below `-f32::MAX`, NaN when `t` is NaN). For every f32 `x`,
/// `(x as f64) <= t` holds exactly when `x <= f32_at_most(t)` does, as f32 to f64 is exact
/// and monotonic.
pub fn f32_at_most(t: f64) -> f32 {
    if t.is_nan() {
        return f32::NAN;
    }
    let nearest = t as f32;
    if f64::from(nearest) > t { next_down(nearest) } else { nearest }
}
