//! A pipec pipeline's interface, defined once: what the compiler's IR and reference
//! interpreter, code generation and the runtime that generated crates link must agree on for
//! the native path to stay bit-identical to the interpreter.
//!
//! - [`InputKind`], [`InputSpec`] and [`OutputRole`] (`spec.rs`): a declared input and what
//!   a computed column is for.
//! - [`Column`] (`column.rs`): one input column of a batch, as the interpreter reads it and
//!   as the runtime's `Batch` holds it.
//! - [`CategoryLookup`] and [`fnv1a64`] (`category.rs`): how a string becomes a category
//!   index (vocabulary position, hash bucket, presence), and the hash behind the buckets.
//!
//! Where the compiler and the runtime store the same thing differently, the type is generic
//! over the storage rather than copied:
//!
//! - [`InputSpec`]'s name is a type parameter. The runtime's specs are `static` items that
//!   generated code writes (`InputSpec<&'static str>`, the default, so
//!   `pipec_runtime::InputSpec` reads as before); the IR builds its inputs at run time
//!   (`InputSpec<String>`). One struct, so a new field or a changed meaning is made in one
//!   place, and code generation (which writes the runtime's from the IR's) is the only
//!   translation.
//! - [`CategoryLookup`] is generic over its vocabulary ([`Vocabulary`]): the interpreter looks
//!   a word up in the IR's `Vec<String>`, the runtime in a [`WordIndex`] hashed once at load.
//!   The rule (missing and unknown strings, hash buckets, presence) is written once, here.
//! - [`Column`] holds strings as `Arc<str>`, the runtime's representation (a few categories
//!   repeated over many rows are shared, and cloning a row allocates nothing); the
//!   interpreter reads them as `&str` like everything else.
//!
//! This crate is a leaf: std and the `fnv` hasher, no burn. Whatever builds tensors from
//! these types (a `Batch`'s columns, a `CategoryTable`'s one-hot rows) stays in the runtime.

mod category;
mod column;
mod spec;

pub use category::{CategoryLookup, Vocabulary, WordIndex, fnv1a64};
pub use column::Column;
pub use spec::{InputKind, InputSpec, OutputRole};
