//! The fused GPU path (`src/fused.rs` of a generated crate): the compiler's third lowering,
//! the whole optimised graph as one CubeCL kernel with one thread per row.
//!
//! The host packs a batch into one f32 buffer, slot-major (slot `s` of row `r` at
//! `s * rows + r`, so a width-1 column is one `memcpy` and a warp's reads are contiguous):
//! one slot per element of every numeric or boolean input, one per category node (the code
//! the native path's `match` gives, as an f32). The kernel writes every computed column into
//! one output buffer in the same layout; the runtime (`pipec_runtime::FusedEngine`) uploads
//! once per chunk and reads back once per batch.
//!
//! Inside the kernel every value is a set of scalar locals, one per element (booleans as
//! 0.0/1.0), and each op is the interpreter's row computation written out, as on the native
//! path: concatenations and slices are only renamings. Constants are exact f32 literals;
//! non-finite ones (WGSL rejects inf and NaN literals) and large tables are read from the
//! weight blob, which the runtime uploads once. Small dense layers are unrolled with literal
//! weights; wide ones loop over their inputs, reading the weights from the blob. Tree
//! ensembles call the runtime's shared `#[cube]` walk (`fused_forest_margins`).

use crate::blob::Blob;
use pipec_compiler::ir::{BinaryFn, CategoryMap, Graph, InputKind, NodeId, Op, UnaryFn};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// Dense layers with at most this many weights are unrolled with literal weights. On lavapipe
/// a 30-64-32-1 MLP (layers of 1,920 and 2,048 weights) ran 14x faster unrolled than looped,
/// but its crate then took minutes to compile (the `#[cube]` expansion of 4,000 terms), so
/// larger layers loop (docs/performance.md).
pub const UNROLL_WEIGHTS: usize = 1024;
/// Values wider than this are not fused (their scalar locals would not fit in registers).
pub const MAX_FUSED_WIDTH: u32 = 1024;

/// Why a graph cannot be fused into one kernel, if it cannot.
pub fn unfusable(graph: &Graph) -> Option<String> {
    graph.ids().find_map(|id| {
        let w = graph.ty(id).width();
        (w > MAX_FUSED_WIDTH)
            .then(|| format!("{id} is {w} wide (the fused kernel holds values of up to {MAX_FUSED_WIDTH} elements)"))
    })
}

/// One line per node that the kernel computes other than as straight-line scalars, and its
/// packed layout, for `pipec explain`.
pub fn describe(graph: &Graph) -> Vec<String> {
    if let Some(reason) = unfusable(graph) {
        return vec![format!("not fused: {reason}; the GPU runs the burn path")];
    }
    let layout = Layout::of(graph);
    let out_slots: u32 = graph.outputs().iter().map(|o| graph.ty(o.node).width()).sum();
    let mut lines = vec![format!(
        "one kernel, one thread per row: {} input slots ({} bytes per row in), {} output slots ({} bytes per row out)",
        layout.slots.len(),
        layout.slots.len() * 4,
        out_slots,
        out_slots * 4
    )];
    for id in graph.ids() {
        match &graph.node(id).op {
            Op::Dense { weight, .. } => {
                let how = if (weight.rows * weight.cols) as usize <= UNROLL_WEIGHTS {
                    "unrolled, literal weights"
                } else {
                    "loop over inputs, weights read from the blob"
                };
                lines.push(format!("{id} dense {}x{} (in x out): {how}", weight.rows, weight.cols));
            }
            Op::Trees { forest, .. } => {
                lines.push(format!("{id} trees ({} trees): node tables walked per row, f32 sums", forest.trees()));
            }
            Op::Gather { table, .. } => {
                lines.push(format!("{id} gather {}x{}: table read from the blob", table.rows, table.cols));
            }
            _ => {}
        }
    }
    lines
}

/// Where each input element and category code sits in the packed input.
struct Layout {
    /// The host-side slot descriptions, as tokens of `pipec_runtime::InputSlot`.
    slots: Vec<TokenStream>,
    /// Per node: the first slot of an `Input` or `Category` node.
    first_slot: Vec<Option<usize>>,
    /// Category encoders: one function per category node.
    encoders: Vec<TokenStream>,
}

impl Layout {
    fn of(graph: &Graph) -> Layout {
        let mut slots = Vec::new();
        let mut first_slot = vec![None; graph.nodes().len()];
        let mut encoders = Vec::new();
        let mut input_slots: Vec<Option<usize>> = vec![None; graph.inputs.len()];
        for id in graph.ids() {
            match &graph.node(id).op {
                Op::Input { input } => {
                    let index = *input as usize;
                    if let Some(first) = input_slots[index] {
                        first_slot[id.index()] = Some(first);
                        continue;
                    }
                    let spec = &graph.inputs[index];
                    let width = spec.width;
                    first_slot[id.index()] = Some(slots.len());
                    input_slots[index] = Some(slots.len());
                    for element in 0..width {
                        slots.push(match spec.kind {
                            InputKind::Bool => {
                                quote!(InputSlot::Bool { input: #index, element: #element, width: #width })
                            }
                            _ => quote!(InputSlot::F32 { input: #index, element: #element, width: #width }),
                        });
                    }
                }
                Op::Category { input, map, missing } => {
                    let index = *input as usize;
                    let encode = format_ident!("code{}", id.0);
                    first_slot[id.index()] = Some(slots.len());
                    slots.push(quote!(InputSlot::Code { input: #index, encode: #encode }));
                    encoders.push(encoder(id, map, missing.as_deref()));
                }
                _ => {}
            }
        }
        Layout { slots, first_slot, encoders }
    }
}

/// The host function that turns a string into node `id`'s category code: the native
/// path's `match` for small vocabularies, a shared `CategoryTable` otherwise.
fn encoder(id: NodeId, map: &CategoryMap, missing: Option<&str>) -> TokenStream {
    let name = format_ident!("code{}", id.0);
    let value = match missing {
        Some(m) => quote!(value.or(Some(#m))),
        None => quote!(value),
    };
    let body = match map {
        CategoryMap::Vocab(words) if words.len() <= crate::native::SMALL_VOCABULARY => {
            let arms = words.iter().enumerate().map(|(i, w)| {
                let i = Literal::f32_suffixed(i as f32);
                quote!(Some(#w) => #i)
            });
            let unknown = Literal::f32_suffixed(words.len() as f32);
            quote!(match #value { #(#arms,)* _ => #unknown })
        }
        _ => {
            let init = crate::category_table_init(map);
            quote!({
                static TABLE: std::sync::LazyLock<CategoryTable> = std::sync::LazyLock::new(|| #init);
                TABLE.index(#value) as f32
            })
        }
    };
    let doc = format!(" The category code of node {id}, as the native path computes it.");
    quote! {
        #[doc = #doc]
        fn #name(value: Option<&str>) -> f32 { #body }
    }
}

/// The whole `src/fused.rs`, formatted.
pub fn generate_fused(graph: &Graph, blob: &mut Blob, source_name: &str) -> String {
    let doc = format!(" The `{}` pipeline as one GPU kernel.", graph.name);
    let tokens = if let Some(reason) = unfusable(graph) {
        let note = format!(" Not fused: {reason}; the GPU runs the burn path.");
        quote! {
            #[doc = #doc]
            #[doc = #note]
            pub static KERNEL: Option<&pipec_runtime::FusedKernel> = None;
        }
    } else {
        let layout = Layout::of(graph);
        let mut emitter = Kernel { graph, blob, layout: &layout, elements: Vec::new(), uses_forest: false };
        let body: Vec<TokenStream> = graph.ids().map(|id| emitter.node(id)).collect();
        let mut slot = 0usize;
        let mut writes = Vec::new();
        for output in graph.outputs() {
            for e in 0..graph.ty(output.node).width() as usize {
                let value = emitter.at(output.node, e);
                writes.push(quote!(output[#slot * rows + r] = #value;));
                slot += 1;
            }
        }
        let output_slots = slot;
        let slots = &layout.slots;
        let encoders = &layout.encoders;
        let forest_import = emitter.uses_forest.then(|| {
            quote!(
                use pipec_runtime::fused_forest_margins;
            )
        });
        quote! {
            #![allow(unused_imports, unused_variables, unused_mut, unused_parens, clippy::all)]
            use pipec_runtime::cubecl;
            use cubecl::prelude::*;
            use pipec_runtime::{CategoryTable, FusedKernel, FusedLaunch, InputSlot};
            #forest_import

            #[doc = #doc]
            pub static KERNEL: Option<&FusedKernel> = Some(&FusedKernel {
                slots: &[#(#slots),*],
                output_slots: #output_slots,
                launch: launch as FusedLaunch,
            });

            #(#encoders)*

            /// One thread per row: reads the row's slots, computes every output, check and
            /// watched feature, and writes them to `output`'s slots.
            #[cube(launch_unchecked)]
            fn pipeline_kernel(input: &[f32], weights: &[f32], output: &mut [f32], rows: usize) {
                let r = ABSOLUTE_POS;
                if r >= rows {
                    terminate!();
                }
                #(#body)*
                #(#writes)*
            }

            /// Launches [`pipeline_kernel`] over `rows` rows.
            ///
            /// # Safety
            /// `input` holds `rows` rows of every slot, `output` room for every output slot,
            /// `weights` the pipeline's whole weight blob.
            unsafe fn launch(
                client: &Client,
                count: CubeCount,
                dim: CubeDim,
                input: BufferArg,
                weights: BufferArg,
                output: BufferArg,
                rows: usize,
            ) {
                unsafe { pipeline_kernel::launch_unchecked(client, count, dim, input, weights, output, rows) }
            }
        }
    };
    crate::format_file(tokens, source_name)
}

/// An f32 constant in kernel code: an exact literal, or a read from the blob when it is not
/// finite (WGSL has no inf or NaN literals).
fn constant(blob: &mut Blob, v: f32) -> TokenStream {
    if v.is_finite() {
        let lit = Literal::f32_suffixed(v);
        quote!(#lit)
    } else {
        let offset = blob.push(&[v]);
        quote!(weights[#offset])
    }
}

fn local(id: NodeId, e: usize) -> proc_macro2::Ident {
    format_ident!("n{}_{}", id.0, e)
}

/// `f32::max` (a NaN operand gives the other), as the interpreter computes it.
fn max(a: &TokenStream, b: &TokenStream) -> TokenStream {
    quote!(select(#b.is_nan() || #a >= #b, #a, #b))
}

/// `f32::min`, as the interpreter computes it.
fn min(a: &TokenStream, b: &TokenStream) -> TokenStream {
    quote!(select(#b.is_nan() || #a <= #b, #a, #b))
}

/// Terms per statement of a long sum.
const SUM_CHUNK: usize = 32;

/// `let mut acc = 0.0 + t0 + ... + t31; acc = acc + t32 + ...;`: a sum in the interpreter's
/// order (left to right), in statements of at most [`SUM_CHUNK`] terms: one nested expression
/// hundreds of terms deep overflows the `#[cube]` macro's stack, and one statement per term
/// makes it slow to compile.
fn sum_into(acc: &proc_macro2::Ident, terms: Vec<TokenStream>) -> TokenStream {
    let mut chunks = terms.chunks(SUM_CHUNK);
    let first = chunks.next().unwrap_or(&[]);
    let mut code = quote!(let mut #acc = 0.0f32 #(+ #first)*;);
    for chunk in chunks {
        code.extend(quote!(#acc = #acc #(+ #chunk)*;));
    }
    code
}

fn flag(cond: TokenStream) -> TokenStream {
    quote!(select(#cond, 1.0f32, 0.0f32))
}

struct Kernel<'a> {
    graph: &'a Graph,
    blob: &'a mut Blob,
    layout: &'a Layout,
    /// Per node: the expression of each element (a local, or a literal).
    elements: Vec<Vec<TokenStream>>,
    uses_forest: bool,
}

impl Kernel<'_> {
    /// Element `e` of `id`, broadcasting a width-1 value.
    fn at(&self, id: NodeId, e: usize) -> TokenStream {
        let elements = &self.elements[id.index()];
        if elements.len() == 1 { elements[0].clone() } else { elements[e].clone() }
    }

    /// Binds each of `values` to a local of node `id` and records them as its elements.
    fn bind(&mut self, id: NodeId, values: Vec<TokenStream>) -> TokenStream {
        let mut code = TokenStream::new();
        let mut elements = Vec::with_capacity(values.len());
        for (e, value) in values.into_iter().enumerate() {
            let name = local(id, e);
            code.extend(quote!(let #name = #value;));
            elements.push(quote!(#name));
        }
        self.elements.push(elements);
        code
    }

    fn node(&mut self, id: NodeId) -> TokenStream {
        let graph = self.graph;
        let w = graph.ty(id).width() as usize;
        match &graph.node(id).op {
            Op::Input { .. } | Op::Category { .. } => {
                let first = self.layout.first_slot[id.index()].unwrap_or(0);
                let values = (0..w).map(|e| {
                    let slot = first + e;
                    quote!(input[#slot * rows + r])
                });
                self.bind(id, values.collect())
            }
            Op::Const { values } => {
                let values = values.iter().map(|v| constant(self.blob, *v)).collect();
                self.bind(id, values)
            }
            Op::Unary { op, x } => {
                let values = (0..w)
                    .map(|e| {
                        let x = self.at(*x, e);
                        match op {
                            UnaryFn::Neg => quote!(-#x),
                            UnaryFn::Log => quote!(#x.ln()),
                            UnaryFn::Log1p => quote!(#x.log1p()),
                            UnaryFn::Exp => quote!(#x.exp()),
                            UnaryFn::Sqrt => quote!(#x.sqrt()),
                            UnaryFn::Abs => quote!(#x.abs()),
                            UnaryFn::Sigmoid => quote!(1.0f32 / (1.0f32 + (-#x).exp())),
                            UnaryFn::Relu => max(&x, &quote!(0.0f32)),
                            UnaryFn::Tanh => quote!(#x.tanh()),
                            UnaryFn::Trunc => quote!(#x.trunc()),
                            UnaryFn::Not => flag(quote!(#x == 0.0f32)),
                            UnaryFn::IsMissing => flag(quote!(#x.is_nan())),
                        }
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::Binary { op, a, b } => {
                let values = (0..w)
                    .map(|e| {
                        let (a, b) = (self.at(*a, e), self.at(*b, e));
                        match op {
                            BinaryFn::Add => quote!(#a + #b),
                            BinaryFn::Sub => quote!(#a - #b),
                            BinaryFn::Mul => quote!(#a * #b),
                            BinaryFn::Div => quote!(#a / #b),
                            BinaryFn::Min => min(&a, &b),
                            BinaryFn::Max => max(&a, &b),
                            BinaryFn::Lt => flag(quote!(#a < #b)),
                            BinaryFn::Le => flag(quote!(#a <= #b)),
                            BinaryFn::Gt => flag(quote!(#a > #b)),
                            BinaryFn::Ge => flag(quote!(#a >= #b)),
                            BinaryFn::Eq => flag(quote!(#a == #b)),
                            BinaryFn::Ne => flag(quote!(#a != #b)),
                            BinaryFn::And => flag(quote!(#a != 0.0f32 && #b != 0.0f32)),
                            BinaryFn::Or => flag(quote!(#a != 0.0f32 || #b != 0.0f32)),
                        }
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::Softmax { x } => {
                let xs: Vec<TokenStream> = (0..w).map(|e| self.at(*x, e)).collect();
                let top = format_ident!("n{}_max", id.0);
                let sum = format_ident!("n{}_sum", id.0);
                let mut code = TokenStream::new();
                let first = &xs[0];
                code.extend(quote!(let mut #top = #first;));
                for x in &xs[1..] {
                    let next = max(&quote!(#top), x);
                    code.extend(quote!(#top = #next;));
                }
                let exps: Vec<proc_macro2::Ident> = (0..w).map(|e| format_ident!("n{}_exp{}", id.0, e)).collect();
                for (exp, x) in exps.iter().zip(&xs) {
                    code.extend(quote!(let #exp = (#x - #top).exp();));
                }
                code.extend(sum_into(&sum, exps.iter().map(|e| quote!(#e)).collect()));
                let values = exps.iter().map(|exp| quote!(#exp / #sum)).collect();
                code.extend(self.bind(id, values));
                code
            }
            Op::Where { cond, a, b } => {
                let values = (0..w)
                    .map(|e| {
                        let (c, a, b) = (self.at(*cond, e), self.at(*a, e), self.at(*b, e));
                        quote!(select(#c != 0.0f32, #a, #b))
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::Concat { parts } => {
                let elements = parts.iter().flat_map(|p| self.elements[p.index()].clone()).collect::<Vec<_>>();
                self.elements.push(elements);
                TokenStream::new()
            }
            Op::Slice { x, start, len } => {
                let start = *start as usize;
                let elements = self.elements[x.index()][start..start + *len as usize].to_vec();
                self.elements.push(elements);
                TokenStream::new()
            }
            Op::Affine { x, scale, shift } => {
                let values = (0..w)
                    .map(|e| {
                        let x = self.at(*x, e);
                        let s = constant(self.blob, scale[e]);
                        let t = constant(self.blob, shift[e]);
                        quote!(#x * #s + #t)
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::Impute { x, value } => {
                let value = constant(self.blob, *value);
                let values = (0..w)
                    .map(|e| {
                        let x = self.at(*x, e);
                        quote!(select(#x.is_nan(), #value, #x))
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::OneHot { index } => {
                let k = self.at(*index, 0);
                let values = (0..w)
                    .map(|e| {
                        let e = Literal::f32_suffixed(e as f32);
                        flag(quote!(#k == #e))
                    })
                    .collect();
                self.bind(id, values)
            }
            Op::Gather { index, table } => {
                let (rows, cols) = (table.rows as usize, table.cols as usize);
                let mut values = table.data.clone();
                values.extend(std::iter::repeat_n(0.0, cols));
                let offset = self.blob.push(&values);
                let k = self.at(*index, 0);
                let base = format_ident!("n{}_row", id.0);
                // Codes are in 0..=rows by construction; the clamp keeps reads inside the table.
                let last = Literal::f32_suffixed(rows as f32);
                let mut code = quote! {
                    let #base = #offset + usize::cast_from(select(#k > #last, #last, #k)) * #cols;
                };
                let values = (0..w).map(|e| quote!(weights[#base + #e])).collect();
                code.extend(self.bind(id, values));
                code
            }
            Op::Dense { x, weight, bias } => self.dense(id, *x, weight, bias),
            Op::Bucketize { x, boundaries } => {
                let x = self.at(*x, 0);
                let terms: Vec<TokenStream> = boundaries
                    .iter()
                    .map(|b| {
                        let b = constant(self.blob, *b);
                        flag(quote!(#b <= #x))
                    })
                    .collect();
                let count = format_ident!("n{}_count", id.0);
                let mut code = sum_into(&count, terms);
                code.extend(self.bind(id, vec![quote!(#count)]));
                code
            }
            Op::Trees { x, forest } => {
                self.uses_forest = true;
                let words = forest.forest.encode();
                let offset = self.blob.push(&words);
                let features = forest.forest.features as usize;
                let row = format_ident!("n{}_x", id.0);
                let margins = format_ident!("n{}_m", id.0);
                let mut code = quote!(let mut #row = Array::<f32>::new(#features););
                for e in 0..features {
                    let v = self.at(*x, e);
                    code.extend(quote!(#row[#e] = #v;));
                }
                code.extend(quote! {
                    let mut #margins = Array::<f32>::new(#w);
                    fused_forest_margins(weights, #offset, &#row, &mut #margins);
                });
                let values = (0..w).map(|e| quote!(#margins[#e])).collect();
                code.extend(self.bind(id, values));
                code
            }
        }
    }

    /// `x · weight + bias` in the interpreter's order (sum over inputs ascending, then the
    /// bias): unrolled with literal weights when small, else a loop over the inputs with one
    /// accumulator per output and the weights read from the blob.
    fn dense(&mut self, id: NodeId, x: NodeId, weight: &pipec_compiler::ir::Matrix, bias: &[f32]) -> TokenStream {
        let (inputs, outputs) = (weight.rows as usize, weight.cols as usize);
        let xs: Vec<TokenStream> = (0..inputs).map(|k| self.at(x, k)).collect();
        if inputs * outputs <= UNROLL_WEIGHTS && weight.data.iter().all(|v| v.is_finite()) {
            let mut code = TokenStream::new();
            let mut values = Vec::with_capacity(outputs);
            for (j, &bias_j) in bias.iter().enumerate().take(outputs) {
                let acc = format_ident!("n{}_acc{}", id.0, j);
                let terms: Vec<TokenStream> = xs
                    .iter()
                    .enumerate()
                    .map(|(k, xk)| {
                        let wk = constant(self.blob, weight.data[k * outputs + j]);
                        quote!(#xk * #wk)
                    })
                    .collect();
                code.extend(sum_into(&acc, terms));
                let b = constant(self.blob, bias_j);
                values.push(quote!(#acc + #b));
            }
            code.extend(self.bind(id, values));
            return code;
        }
        let w_offset = self.blob.push(&weight.data);
        let b_offset = self.blob.push(bias);
        let row = format_ident!("n{}_x", id.0);
        let mut code = quote!(let mut #row = Array::<f32>::new(#inputs););
        for (k, xk) in xs.iter().enumerate() {
            code.extend(quote!(#row[#k] = #xk;));
        }
        let accs: Vec<proc_macro2::Ident> = (0..outputs).map(|j| format_ident!("n{}_acc{}", id.0, j)).collect();
        for acc in &accs {
            code.extend(quote!(let mut #acc = 0.0f32;));
        }
        let steps = accs.iter().enumerate().map(|(j, acc)| quote!(#acc += xk * weights[at + #j];));
        code.extend(quote! {
            for k in 0..#inputs {
                let xk = #row[k];
                let at = #w_offset + k * #outputs;
                #(#steps)*
            }
        });
        let values = accs.iter().enumerate().map(|(j, acc)| {
            let at = b_offset + j;
            quote!(#acc + weights[#at])
        });
        code.extend(self.bind(id, values.collect()));
        code
    }
}
