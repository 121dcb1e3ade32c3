//! The missing-value rules a numeric split can carry, as the rewrites of a feature value that
//! fold them into the row's slots (see the module documentation of `compiled`): after
//! [`Variant::apply`], every rule is the plain comparison `value <= threshold`.

use crate::eval::ZERO_THRESHOLD;
use crate::forest::Missing;

/// How a slot variant rewrites a feature value before `value <= threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Variant {
    NanRight,
    NanLeft,
    ZeroRight,
    ZeroLeft,
    NoneZero,
}

pub(super) const VARIANTS: [Variant; 5] =
    [Variant::NanRight, Variant::NanLeft, Variant::ZeroRight, Variant::ZeroLeft, Variant::NoneZero];

impl Variant {
    pub(super) fn index(self) -> usize {
        self as usize
    }

    pub(super) fn of(missing: Missing, default_left: bool) -> Variant {
        match (missing, default_left) {
            (Missing::Nan, false) => Variant::NanRight,
            (Missing::Nan, true) => Variant::NanLeft,
            (Missing::Zero, false) => Variant::ZeroRight,
            (Missing::Zero, true) => Variant::ZeroLeft,
            (Missing::None, _) => Variant::NoneZero,
        }
    }

    /// Whether the variant marks default-left values with -inf (which a NaN threshold or a
    /// category test would send right).
    pub(super) fn sends_default_left(self) -> bool {
        matches!(self, Variant::NanLeft | Variant::ZeroLeft)
    }

    #[inline]
    pub(super) fn apply(self, x: f32) -> f32 {
        match self {
            Variant::NanRight => x,
            Variant::NanLeft => {
                if x.is_nan() {
                    f32::NEG_INFINITY
                } else {
                    x
                }
            }
            Variant::ZeroRight | Variant::ZeroLeft => {
                let is_default = x.is_nan() || x.abs() <= ZERO_THRESHOLD;
                match (is_default, self == Variant::ZeroLeft) {
                    (false, _) => x,
                    (true, true) => f32::NEG_INFINITY,
                    (true, false) => f32::NAN,
                }
            }
            Variant::NoneZero => {
                if x.is_nan() {
                    0.0
                } else {
                    x
                }
            }
        }
    }
}
