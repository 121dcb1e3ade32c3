//! The IR's elementwise functions, [`UnaryFn`] and [`BinaryFn`], with their names written
//! once: one table per enum declares the variants and their names, and gives `ALL`, `name`
//! and `from_name` (as [`crate::Pass`] has), so that nothing else keeps a list of them.
//! Everything that treats each function differently (the interpreter, lowering's choice of
//! what `.pipe` source may call, the three code generators) is an exhaustive `match`, which
//! the compiler checks when a function is added.

/// Declares an enum of named functions from one table: `Variant => "name",` per line.
macro_rules! named_functions {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// Every function, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant)),*].len()] = [$($name::$variant),*];

            /// The function's name in the IR text; for a function `.pipe` source calls, also
            /// its name there.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The function called `name`, if any.
            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|f| f.name() == name)
            }
        }
    };
}

named_functions! {
    /// A function of one value, elementwise.
    pub enum UnaryFn {
        Neg => "neg",
        Log => "log",
        Log1p => "log1p",
        Exp => "exp",
        Sqrt => "sqrt",
        Abs => "abs",
        Sigmoid => "sigmoid",
        Relu => "relu",
        Tanh => "tanh",
        /// Toward zero (`f32::trunc`): an ONNX cast to an integer type.
        Trunc => "trunc",
        /// Boolean negation.
        Not => "not",
        /// Whether an f32 value is missing (NaN); gives bool.
        IsMissing => "is_missing",
    }
}

named_functions! {
    /// A function of two values, elementwise; an operand of width 1 is broadcast.
    pub enum BinaryFn {
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        Div => "div",
        Min => "min",
        Max => "max",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
        Eq => "eq",
        Ne => "ne",
        And => "and",
        Or => "or",
    }
}

impl BinaryFn {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge | BinaryFn::Eq | BinaryFn::Ne)
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryFn::And | BinaryFn::Or)
    }
}

#[cfg(test)]
mod tests {
    use super::{BinaryFn, UnaryFn};

    #[test]
    fn names_are_distinct_and_found_again() {
        for f in UnaryFn::ALL {
            assert_eq!(UnaryFn::from_name(f.name()), Some(f));
        }
        for f in BinaryFn::ALL {
            assert_eq!(BinaryFn::from_name(f.name()), Some(f));
        }
        assert_eq!(UnaryFn::from_name("cbrt"), None);
    }
}
