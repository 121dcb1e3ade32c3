//! `x < t` and `(x as f64) <= t` normalised to `x <= u` on f32, checked around many `t`.

use pipec_forest::{f32_at_most, f32_less_than, next_down};

fn next_up(x: f32) -> f32 {
    -next_down(-x)
}

/// Deterministic pseudo-random u64s (SplitMix64).
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn specials() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        next_down(f32::MIN_POSITIVE),
        1.0,
        -1.0,
        0.5,
        0.1,
        -0.1,
        1e-35,
        -1e-35,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        16_777_216.0,
        2_147_483_648.0,
    ]
}

/// `t`, its neighbours up to 3 steps away, and some fixed values.
fn around(t: f32) -> Vec<f32> {
    let mut xs = specials();
    let (mut up, mut down) = (t, t);
    xs.push(t);
    for _ in 0..3 {
        up = next_up(up);
        down = next_down(down);
        xs.push(up);
        xs.push(down);
    }
    xs.retain(|x| !x.is_nan());
    xs
}

#[test]
fn next_down_steps_once() {
    assert_eq!(next_down(1.0), 1.0 - f32::EPSILON / 2.0);
    assert_eq!(next_down(0.0).to_bits(), (-f32::from_bits(1)).to_bits());
    assert_eq!(next_down(-0.0).to_bits(), (-f32::from_bits(1)).to_bits());
    assert_eq!(next_down(f32::from_bits(1)).to_bits(), 0.0f32.to_bits());
    assert_eq!(next_down(f32::INFINITY), f32::MAX);
    assert_eq!(next_down(f32::MIN), f32::NEG_INFINITY);
    assert_eq!(next_down(f32::NEG_INFINITY), f32::NEG_INFINITY);
    assert!(next_down(f32::NAN).is_nan());
}

#[test]
fn less_than_is_at_most_the_next_lower_f32() {
    let mut next = rng(7);
    let mut ts = specials();
    for _ in 0..3000 {
        let t = f32::from_bits(next() as u32);
        if !t.is_nan() {
            ts.push(t);
        }
    }
    let mut checked = 0;
    for &t in &ts {
        let u = f32_less_than(t);
        for x in around(t) {
            assert_eq!(x < t, x <= u, "x = {x:e} ({:#x}), t = {t:e} ({:#x}), u = {u:e}", x.to_bits(), t.to_bits());
            checked += 1;
        }
    }
    assert!(checked > 50_000);
    // Zero: -0.0 is not below 0.0, the smallest negative subnormal is.
    assert!(-0.0f32 > f32_less_than(0.0));
    assert!(-f32::from_bits(1) <= f32_less_than(0.0));
    assert!(-0.0f32 > f32_less_than(-0.0));
    // Nothing is below -inf, not even -inf: the threshold is NaN, every comparison false.
    assert!(f32_less_than(f32::NEG_INFINITY).is_nan());
}

#[test]
fn at_most_matches_the_double_comparison() {
    let mut next = rng(11);
    let mut ts: Vec<f64> = specials().into_iter().map(f64::from).collect();
    ts.extend([
        1e-50,
        -1e-50,
        1e300,
        -1e300,
        0.30000000000000004,
        1.0000000180025095e-35,
        -1e-40,
        1e-45,
        3.4028235677973366e38,
    ]);
    for _ in 0..3000 {
        // Doubles strictly between two f32s, exactly on one, and arbitrary doubles.
        let a = f32::from_bits(next() as u32);
        if !a.is_finite() {
            continue;
        }
        let b = next_up(a);
        let frac = (next() >> 11) as f64 / (1u64 << 53) as f64;
        ts.push(f64::from(a) + (f64::from(b) - f64::from(a)) * frac);
        ts.push(f64::from(a));
        let d = f64::from_bits(next());
        if !d.is_nan() {
            ts.push(d);
        }
    }
    for &t in &ts {
        let u = f32_at_most(t);
        let mut xs = around(t as f32);
        if u.is_finite() {
            xs.extend(around(u));
        }
        for x in xs {
            assert_eq!(f64::from(x) <= t, x <= u, "x = {x:e}, t = {t:e}, u = {u:e}");
        }
    }
    assert!(f32_at_most(f64::NAN).is_nan());
    assert_eq!(f32_at_most(-1e300), f32::NEG_INFINITY);
    assert_eq!(f32_at_most(1e300), f32::MAX);
    assert_eq!(f32_at_most(-1e-50).to_bits(), (-f32::from_bits(1)).to_bits());
}
