//! The native one-row path (`src/native.rs` of a generated crate): the compiler's second
//! lowering, straight-line Rust over one row.
//!
//! Every value is a fixed-size `[f32; width]` array on the stack (booleans as 0.0/1.0,
//! category indices as their number), exactly as the reference interpreter represents them,
//! and each op is the interpreter's row computation with the widths known at compile time, so
//! loops have constant bounds the compiler can unroll and vectorise. Constants are loaded
//! once into fixed-size boxed arrays; scoring a row allocates nothing.
//!
//! Elementwise values are filled by plain loops over a zeroed array, not
//! `std::array::from_fn`: inside a large `score` LLVM left some `from_fn` closures scalar
//! (a ReLU after a 64-wide layer cost as much as the layer), while the loops vectorise.
//! A dense layer of fewer than 8 outputs sums in 8 lanes (`pipec_compiler::ir::dense_lanes`),
//! the order the interpreter defines, so that a one-output layer is not one chain of dependent
//! additions; one wider than 32 outputs in blocks of 32 whose sums stay in registers (the
//! same order per output).

use crate::blob::Blob;
use pipec_compiler::ir::{BinaryFn, CategoryMap, Graph, InputKind, NodeId, Op, Ty, UnaryFn, dense_lanes};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The whole `src/native.rs`, formatted.
pub fn generate_native(graph: &Graph, blob: &mut Blob, source_name: &str) -> String {
    let mut emitter = Native { graph, blob, fields: Vec::new(), inits: Vec::new() };
    let body: Vec<TokenStream> = graph.ids().map(|id| emitter.node(id)).collect();
    let fields = &emitter.fields;
    let inits = &emitter.inits;
    let has_strings = graph.inputs.iter().any(|i| i.kind == InputKind::Str);
    let lifetime = if has_strings { quote!(<'a>) } else { quote!() };
    let any_lifetime = if has_strings { quote!(<'_>) } else { quote!() };

    let row_fields = graph.inputs.iter().map(|input| {
        let name = field_ident(&input.name);
        let w = input.width;
        let ty = match (input.kind, input.is_vector) {
            (InputKind::Str, _) => quote!(Option<&'a str>),
            (InputKind::Bool, false) => quote!(bool),
            (InputKind::Bool, true) => quote!([bool; #w]),
            (_, false) => quote!(f32),
            (_, true) => quote!([f32; #w]),
        };
        let doc = format!(" Input `{}`{}.", input.name, if input.nullable { "; NaN or None when missing" } else { "" });
        quote!(#[doc = #doc] pub #name: #ty)
    });
    let score_fields = graph.outputs().iter().map(|output| {
        let name = field_ident(&output.name);
        let ty = graph.ty(output.node);
        let w = ty.width() as usize;
        let ty = match (ty, w) {
            (Ty::Bool(_), 1) => quote!(bool),
            (Ty::Bool(_), _) => quote!([bool; #w]),
            (_, 1) => quote!(f32),
            _ => quote!([f32; #w]),
        };
        quote!(pub #name: #ty)
    });
    let score_values = graph.outputs().iter().map(|output| {
        let name = field_ident(&output.name);
        let value = var(output.node);
        let w = graph.ty(output.node).width() as usize;
        match (graph.ty(output.node), w) {
            (Ty::Bool(_), 1) => quote!(#name: #value[0] != 0.0),
            (Ty::Bool(_), _) => {
                quote!(#name: { let mut out = [false; #w]; for i in 0..#w { out[i] = #value[i] != 0.0; } out })
            }
            (_, 1) => quote!(#name: #value[0]),
            _ => quote!(#name: #value),
        }
    });

    let columns = graph.inputs.iter().enumerate().map(|(index, input)| {
        let column = format_ident!("column{index}");
        match input.kind {
            InputKind::Str => quote!(let #column = batch.str_column(#index)?;),
            InputKind::Bool => quote!(let #column = batch.bool_column(#index)?;),
            _ => quote!(let #column = batch.f32_column(#index)?;),
        }
    });
    let row_values = graph.inputs.iter().enumerate().map(|(index, input)| {
        let name = field_ident(&input.name);
        let column = format_ident!("column{index}");
        let w = input.width;
        match (input.kind, input.is_vector) {
            (InputKind::Str, _) => quote!(#name: #column[r].as_deref()),
            (_, false) => quote!(#name: #column[r]),
            (_, true) => quote!(#name: { let mut row = [Default::default(); #w]; row.copy_from_slice(&#column[r * #w..r * #w + #w]); row }),
        }
    });
    let outputs_init = graph.outputs().iter().enumerate().map(|(index, output)| {
        let out = format_ident!("output{index}");
        let w = graph.ty(output.node).width() as usize;
        match graph.ty(output.node) {
            Ty::Bool(_) => quote!(let mut #out: Vec<bool> = Vec::with_capacity(rows * #w);),
            _ => quote!(let mut #out: Vec<f32> = Vec::with_capacity(rows * #w);),
        }
    });
    let outputs_push = graph.outputs().iter().enumerate().map(|(index, output)| {
        let out = format_ident!("output{index}");
        let name = field_ident(&output.name);
        if graph.ty(output.node).width() == 1 {
            quote!(#out.push(scores.#name);)
        } else {
            quote!(#out.extend_from_slice(&scores.#name);)
        }
    });
    let outputs_done = graph.outputs().iter().enumerate().map(|(index, output)| {
        let out = format_ident!("output{index}");
        let w = graph.ty(output.node).width() as usize;
        match graph.ty(output.node) {
            Ty::Bool(_) => quote!(OutputColumn::Bool { width: #w, values: #out }),
            _ => quote!(OutputColumn::F32 { width: #w, values: #out }),
        }
    });

    let doc = format!(" The `{}` pipeline's native one-row path.", graph.name);
    let forest_import = crate::has_trees(graph).then(|| {
        quote!(
            use pipec_runtime::Forest;
        )
    });
    let tokens = quote! {
        #[allow(unused_imports)]
        use pipec_runtime::{Batch, CategoryTable, OutputColumn, RowPipeline, RuntimeError, Weights};
        #forest_import

        /// One row of inputs, fields named and ordered as the pipeline declares them.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Row #lifetime {
            #(#row_fields,)*
        }

        /// One row of outputs.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Scores {
            #(#score_fields,)*
        }

        #[doc = #doc]
        pub struct NativePipeline {
            #(#fields,)*
        }

        impl NativePipeline {
            /// Scores one row: straight-line code over fixed-size arrays, no allocation.
            #[inline]
            #[allow(unused_variables, clippy::all)]
            pub fn score(&self, row: &Row #any_lifetime) -> Scores {
                #(#body)*
                Scores { #(#score_values,)* }
            }
        }

        impl RowPipeline for NativePipeline {
            fn spec() -> &'static pipec_runtime::PipelineSpec {
                &super::SPEC
            }

            fn load() -> Result<Self, RuntimeError> {
                #[allow(unused_variables)]
                let weights = Weights::new(super::WEIGHTS);
                Ok(NativePipeline { #(#inits,)* })
            }

            #[allow(unused_variables)]
            fn forward_rows(&self, batch: &Batch) -> Result<Vec<OutputColumn>, RuntimeError> {
                let rows = batch.rows();
                #(#columns)*
                #(#outputs_init)*
                for r in 0..rows {
                    let scores = self.score(&Row { #(#row_values,)* });
                    #(#outputs_push)*
                }
                Ok(vec![#(#outputs_done),*])
            }
        }
    };
    crate::format_file(tokens, source_name)
}

/// A struct field for a declared name: the name itself, raw if it is a Rust keyword.
fn field_ident(name: &str) -> Ident {
    if syn::parse_str::<Ident>(name).is_ok() {
        format_ident!("{name}")
    } else if matches!(name, "self" | "Self" | "super" | "crate" | "_") {
        format_ident!("{name}_")
    } else {
        Ident::new_raw(name, proc_macro2::Span::call_site())
    }
}

/// Vocabularies up to this size become a `match`; larger ones a hash table lookup.
pub(crate) const SMALL_VOCABULARY: usize = 64;

fn var(id: NodeId) -> Ident {
    format_ident!("v{}", id.0)
}

struct Native<'a> {
    graph: &'a Graph,
    blob: &'a mut Blob,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
}

impl Native<'_> {
    /// A boxed `[f32; n]` constant field, returning its name.
    fn array_field(&mut self, prefix: &str, id: NodeId, values: &[f32]) -> Ident {
        let name = format_ident!("{prefix}{}", id.0);
        let n = values.len();
        let offset = self.blob.push(values);
        self.fields.push(quote!(#name: Box<[f32; #n]>));
        self.inits.push(quote!(#name: weights.array::<#n>(#offset)?));
        name
    }

    /// A boxed `[[f32; cols]; rows]` constant field, returning its name.
    fn matrix_field(&mut self, prefix: &str, id: NodeId, values: &[f32], rows: usize, cols: usize) -> Ident {
        let name = format_ident!("{prefix}{}", id.0);
        let offset = self.blob.push(values);
        self.fields.push(quote!(#name: Box<[[f32; #cols]; #rows]>));
        self.inits.push(quote!(#name: weights.matrix::<#rows, #cols>(#offset)?));
        name
    }

    /// Element `i` of value `id`, broadcasting a width-1 value.
    fn at(&self, id: NodeId, i: TokenStream) -> TokenStream {
        let v = var(id);
        if self.graph.ty(id).width() == 1 { quote!(#v[0]) } else { quote!(#v[#i]) }
    }

    fn node(&mut self, id: NodeId) -> TokenStream {
        let graph = self.graph;
        let ty = graph.ty(id);
        let w = ty.width() as usize;
        let name = var(id);
        let value = match &graph.node(id).op {
            Op::Input { input } => {
                let spec = &graph.inputs[*input as usize];
                let field = field_ident(&spec.name);
                match (spec.kind, spec.is_vector) {
                    (InputKind::Bool, false) => quote!([f32::from(u8::from(row.#field))]),
                    (InputKind::Bool, true) => elementwise(w, quote!(f32::from(u8::from(row.#field[i])))),
                    (_, false) => quote!([row.#field]),
                    (_, true) => quote!(row.#field),
                }
            }
            Op::Category { input, map, missing } => {
                let field = field_ident(&graph.inputs[*input as usize].name);
                let value = match missing {
                    Some(m) => quote!(row.#field.or(Some(#m))),
                    None => quote!(row.#field),
                };
                let index = match map {
                    // A small vocabulary compiles to a `match` on the string (length and byte
                    // comparisons), faster than hashing it.
                    CategoryMap::Vocab(words) if words.len() <= SMALL_VOCABULARY => {
                        let arms = words.iter().enumerate().map(|(i, w)| {
                            let i = i as u32;
                            quote!(Some(#w) => #i)
                        });
                        let unknown = words.len() as u32;
                        quote!(match #value { #(#arms,)* _ => #unknown })
                    }
                    _ => {
                        let (table, field, init) = crate::category_table_field(id, map);
                        self.fields.push(field);
                        self.inits.push(init);
                        quote!(self.#table.index(#value))
                    }
                };
                quote!([#index as f32])
            }
            Op::Const { values } => {
                let field = self.array_field("k", id, values);
                quote!(*self.#field)
            }
            Op::Unary { op, x } => {
                let x = self.at(*x, quote!(i));
                let f = match op {
                    UnaryFn::Neg => quote!(-#x),
                    UnaryFn::Log => quote!(#x.ln()),
                    UnaryFn::Log1p => quote!(#x.ln_1p()),
                    UnaryFn::Exp => quote!(#x.exp()),
                    UnaryFn::Sqrt => quote!(#x.sqrt()),
                    UnaryFn::Abs => quote!(#x.abs()),
                    UnaryFn::Sigmoid => quote!(1.0 / (1.0 + (-#x).exp())),
                    UnaryFn::Relu => quote!(#x.max(0.0)),
                    UnaryFn::Tanh => quote!(#x.tanh()),
                    UnaryFn::Trunc => quote!(#x.trunc()),
                    UnaryFn::Not => quote!(if #x == 0.0 { 1.0 } else { 0.0 }),
                    UnaryFn::IsMissing => quote!(if #x.is_nan() { 1.0 } else { 0.0 }),
                };
                elementwise(w, f)
            }
            Op::Binary { op, a, b } => {
                let a = self.at(*a, quote!(i));
                let b = self.at(*b, quote!(i));
                let f = match op {
                    BinaryFn::Add => quote!(#a + #b),
                    BinaryFn::Sub => quote!(#a - #b),
                    BinaryFn::Mul => quote!(#a * #b),
                    BinaryFn::Div => quote!(#a / #b),
                    BinaryFn::Min => quote!(#a.min(#b)),
                    BinaryFn::Max => quote!(#a.max(#b)),
                    BinaryFn::Lt => quote!(if #a < #b { 1.0 } else { 0.0 }),
                    BinaryFn::Le => quote!(if #a <= #b { 1.0 } else { 0.0 }),
                    BinaryFn::Gt => quote!(if #a > #b { 1.0 } else { 0.0 }),
                    BinaryFn::Ge => quote!(if #a >= #b { 1.0 } else { 0.0 }),
                    BinaryFn::Eq => quote!(if #a == #b { 1.0 } else { 0.0 }),
                    BinaryFn::Ne => quote!(if #a != #b { 1.0 } else { 0.0 }),
                    BinaryFn::And => quote!(if #a != 0.0 && #b != 0.0 { 1.0 } else { 0.0 }),
                    BinaryFn::Or => quote!(if #a != 0.0 || #b != 0.0 { 1.0 } else { 0.0 }),
                };
                elementwise(w, f)
            }
            Op::Softmax { x } => {
                let x = var(*x);
                quote!({
                    let max = #x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut exps = [0.0f32; #w];
                    for i in 0..#w { exps[i] = (#x[i] - max).exp(); }
                    let sum: f32 = exps.iter().sum();
                    for i in 0..#w { exps[i] /= sum; }
                    exps
                })
            }
            Op::Where { cond, a, b } => {
                let c = self.at(*cond, quote!(i));
                let a = self.at(*a, quote!(i));
                let b = self.at(*b, quote!(i));
                elementwise(w, quote!(if #c != 0.0 { #a } else { #b }))
            }
            Op::Concat { parts } => {
                let mut offset = 0usize;
                let copies: Vec<TokenStream> = parts
                    .iter()
                    .map(|p| {
                        let pw = graph.ty(*p).width() as usize;
                        let v = var(*p);
                        let copy = quote!(joined[#offset..#offset + #pw].copy_from_slice(&#v););
                        offset += pw;
                        copy
                    })
                    .collect();
                quote!({ let mut joined = [0.0f32; #w]; #(#copies)* joined })
            }
            Op::Slice { x, start, .. } => {
                let x = var(*x);
                let start = *start as usize;
                quote!({ let mut part = [0.0f32; #w]; part.copy_from_slice(&#x[#start..#start + #w]); part })
            }
            Op::Affine { x, scale, shift } => {
                let s = self.array_field("s", id, scale);
                let t = self.array_field("t", id, shift);
                let x = self.at(*x, quote!(i));
                elementwise(w, quote!(#x * self.#s[i] + self.#t[i]))
            }
            Op::Impute { x, value } => {
                let x = self.at(*x, quote!(i));
                let value = proc_macro2::Literal::f32_suffixed(*value);
                elementwise(w, quote!({ let v = #x; if v.is_nan() { #value } else { v } }))
            }
            Op::OneHot { index } => {
                let index = var(*index);
                quote!({ let mut hot = [0.0f32; #w]; let k = #index[0] as usize; if k < #w { hot[k] = 1.0; } hot })
            }
            Op::Gather { index, table } => {
                // The table with a zero row appended for unknown categories, read without a
                // branch: a branch here let LLVM merge the gathers of one index early in
                // `score` and keep their rows alive (spilled) across later calls.
                let (rows, cols) = (table.rows as usize, table.cols as usize);
                let mut data = table.data.clone();
                data.resize((rows + 1) * cols, 0.0);
                let g = self.matrix_field("g", id, &data, rows + 1, cols);
                let index = var(*index);
                quote!(self.#g[(#index[0] as usize).min(#rows)])
            }
            Op::Dense { x, weight, bias } => {
                let (inputs, outputs) = (weight.rows as usize, weight.cols as usize);
                let wf = self.matrix_field("w", id, &weight.data, inputs, outputs);
                let bf = self.array_field("b", id, bias);
                let xk = self.at(*x, quote!(k));
                let lanes = dense_lanes(weight.rows, weight.cols);
                if lanes == 1 && outputs > DENSE_BLOCK {
                    // Blocks of DENSE_BLOCK outputs, each summed over all k before the next:
                    // the block's sums stay in registers (a 64-wide accumulator does not fit
                    // in the 16 SSE registers, and went through memory at every k). Each
                    // output is still the interpreter's sum over k ascending, then the bias.
                    let full = outputs / DENSE_BLOCK;
                    let block = |start: TokenStream, width: usize| {
                        quote! {
                            let start = #start;
                            let mut acc = [0.0f32; #width];
                            for k in 0..#inputs {
                                let xk = #xk;
                                let wk = &self.#wf[k];
                                for j in 0..#width {
                                    acc[j] += xk * wk[start + j];
                                }
                            }
                            for j in 0..#width {
                                out[start + j] = acc[j] + self.#bf[j + start];
                            }
                        }
                    };
                    let full_block = block(quote!(b * #DENSE_BLOCK), DENSE_BLOCK);
                    let rest = outputs - full * DENSE_BLOCK;
                    let last = (rest > 0).then(|| {
                        let start = full * DENSE_BLOCK;
                        let last = block(quote!(#start), rest);
                        quote!({ #last })
                    });
                    quote!({
                        let mut out = [0.0f32; #outputs];
                        for b in 0..#full {
                            #full_block
                        }
                        #last
                        out
                    })
                } else if lanes == 1 {
                    // The interpreter's order: sum over k ascending, then the bias; k outer so
                    // that the outputs are independent sums, computed several at a time.
                    quote!({
                        let mut acc = [0.0f32; #outputs];
                        for k in 0..#inputs {
                            let xk = #xk;
                            let wk = &self.#wf[k];
                            for j in 0..#outputs {
                                acc[j] += xk * wk[j];
                            }
                        }
                        for j in 0..#outputs {
                            acc[j] += self.#bf[j];
                        }
                        acc
                    })
                } else {
                    // `lanes` partial sums per output, lane `l` over the k with k % lanes == l
                    // ascending, combined pairwise, then the bias (`Op::Dense`).
                    let chunks = inputs / lanes;
                    let rest = (chunks * lanes < inputs).then(|| {
                        let first = chunks * lanes;
                        quote! {
                            for k in #first..#inputs {
                                let xk = #xk;
                                let wk = &self.#wf[k];
                                for j in 0..#outputs {
                                    acc[k - #first][j] += xk * wk[j];
                                }
                            }
                        }
                    });
                    let lane_values: Vec<TokenStream> = (0..lanes).map(|l| quote!(acc[#l][j])).collect();
                    let combined = combine_lane_tokens(&lane_values);
                    quote!({
                        let mut acc = [[0.0f32; #outputs]; #lanes];
                        for c in 0..#chunks {
                            for l in 0..#lanes {
                                let k = c * #lanes + l;
                                let xk = #xk;
                                let wk = &self.#wf[k];
                                for j in 0..#outputs {
                                    acc[l][j] += xk * wk[j];
                                }
                            }
                        }
                        #rest
                        let mut out = [0.0f32; #outputs];
                        for j in 0..#outputs {
                            out[j] = #combined + self.#bf[j];
                        }
                        out
                    })
                }
            }
            Op::Bucketize { x, boundaries } => {
                let q = self.array_field("q", id, boundaries);
                let x = self.at(*x, quote!(0));
                quote!({ let v = #x; [self.#q.iter().filter(|b| **b <= v).count() as f32] })
            }
            Op::Trees { x, forest } => {
                // The node tables are data, walked by one loop in `pipec-forest`: a
                // thousand-tree model adds no code, only blob bytes.
                let words = forest.forest.encode();
                let count = words.len();
                let offset = self.blob.push(&words);
                let field = format_ident!("f{}", id.0);
                self.fields.push(quote!(#field: Forest));
                self.inits.push(quote!(#field: weights.forest(#offset, #count)?));
                let features = forest.forest.features as usize;
                let input = elementwise(features, self.at(*x, quote!(i)));
                quote!({
                    let input: [f32; #features] = #input;
                    let mut margins = [0.0f32; #w];
                    self.#field.predict_margins(&input, &mut margins);
                    margins
                })
            }
        };
        quote! { let #name: [f32; #w] = #value; }
    }
}

/// Outputs of a wide dense layer summed together, in registers (`Op::Dense`'s native code).
const DENSE_BLOCK: usize = 32;

/// `[f32; w]` whose element `i` is `f` (an expression in `i`): a loop over a zeroed array,
/// which LLVM vectorises where it left some `std::array::from_fn` closures scalar.
fn elementwise(w: usize, f: TokenStream) -> TokenStream {
    quote!({
        let mut out = [0.0f32; #w];
        for i in 0..#w {
            out[i] = #f;
        }
        out
    })
}

/// `pipec_compiler::ir::combine_lanes` as code: the halves combined, then added.
fn combine_lane_tokens(lanes: &[TokenStream]) -> TokenStream {
    match lanes {
        [] => quote!(0.0f32),
        [one] => one.clone(),
        _ => {
            let (a, b) = lanes.split_at(lanes.len() / 2);
            let (a, b) = (combine_lane_tokens(a), combine_lane_tokens(b));
            quote!((#a + #b))
        }
    }
}
