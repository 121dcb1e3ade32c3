//! The forward pass: one `let` per IR node, as burn tensor operations over the batch.
//!
//! Every f32 value is a `Tensor<2>` of shape `[rows, width]` (or `[1, width]` for values that
//! depend on no input, broadcast where used); booleans are `Tensor<2, Bool>`; category indices
//! stay on the host as `Vec<u32>`. A value is cloned only when a later node still reads it
//! (burn tensors move, and needless clones block kernel fusion).

use crate::blob::Blob;
use pipec_compiler::ir::{BinaryFn, Graph, NodeId, Op, Ty, UnaryFn};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The crate's `src/lib.rs` (the interface: spec, weights, modules) and `src/tensor.rs` (the
/// burn path), in that order.
pub fn generate_lib(graph: &Graph, blob: &mut Blob, source_name: &str) -> (String, String) {
    let mut emitter = Gen {
        graph,
        blob,
        fields: Vec::new(),
        inits: Vec::new(),
        remaining: graph.use_counts(),
        batched: batched_nodes(graph),
    };
    let body: Vec<TokenStream> = graph.ids().map(|id| emitter.node(id)).collect();
    let outputs: Vec<TokenStream> = graph
        .outputs()
        .iter()
        .map(|output| {
            let name = &output.name;
            let value = emitter.take(output.node);
            match graph.ty(output.node) {
                Ty::Bool(_) => quote!(bool_output(#name, #value, rows)?),
                _ => quote!(f32_output(#name, #value, rows)?),
            }
        })
        .collect();
    let spec = crate::spec::spec_tokens(graph);
    let fields = &emitter.fields;
    let inits = &emitter.inits;
    let doc = format!(" The `{}` pipeline, version {}, compiled by pipec.", graph.name, graph.version);
    let forest_import = crate::has_trees(graph).then(|| {
        quote!(
            use pipec_runtime::TensorForest;
        )
    });
    let lib = quote! {
        #[allow(unused_imports)]
        use pipec_runtime::{InputKind, InputSpec, OutputKind, OutputRole, OutputSpec, PipelineSpec};

        #[cfg(feature = "gpu")]
        pub mod fused;
        pub mod native;
        #[cfg(feature = "gpu")]
        mod tensor;

        #[cfg(feature = "gpu")]
        pub use tensor::Pipeline;

        /// Every constant of the pipeline (weights, statistics), little-endian f32.
        pub static WEIGHTS: &[u8] = include_bytes!("../weights.bin");

        #spec
    };
    let tensor = quote! {
        //! The pipeline over burn tensors, a batch at a time (the feature `gpu`).
        #[allow(unused_imports)]
        use pipec_runtime::burn_api::{activation, Bool, Device, Tensor};
        #forest_import
        #[allow(unused_imports)]
        use pipec_runtime::{
            bool_output, f32_output, Batch, CategoryTable, CompiledPipeline, FusedKernel, OutputColumn,
            PipelineSpec, RuntimeError, Weights,
        };
        use crate::{fused, native, SPEC, WEIGHTS};

        #[doc = #doc]
        pub struct Pipeline {
            device: Device,
            #(#fields,)*
        }

        impl CompiledPipeline for Pipeline {
            type Rows = native::NativePipeline;

            fn spec() -> &'static PipelineSpec {
                &SPEC
            }

            fn load(device: &Device) -> Result<Self, RuntimeError> {
                let weights = Weights::new(WEIGHTS);
                Ok(Pipeline { device: device.clone(), #(#inits,)* })
            }

            fn fused() -> Option<(&'static FusedKernel, &'static [u8])> {
                fused::KERNEL.map(|kernel| (kernel, WEIGHTS))
            }

            #[allow(unused_variables, clippy::let_and_return)]
            fn forward(&self, batch: &Batch) -> Result<Vec<OutputColumn>, RuntimeError> {
                let device = &self.device;
                let rows = batch.rows();
                #(#body)*
                Ok(vec![#(#outputs),*])
            }
        }
    };
    (crate::format_file(lib, source_name), crate::format_file(tensor, source_name))
}

struct Gen<'a> {
    graph: &'a Graph,
    blob: &'a mut Blob,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    /// Uses of each node not yet emitted; the last use moves, earlier ones clone.
    remaining: Vec<u32>,
    /// Per node: whether it depends on an input (one row per batch row).
    batched: Vec<bool>,
}

/// For each node in topological order, whether it depends on an input.
fn batched_nodes(graph: &Graph) -> Vec<bool> {
    let mut batched = Vec::with_capacity(graph.nodes().len());
    for node in graph.nodes() {
        let b = match &node.op {
            Op::Input { .. } | Op::Category { .. } => true,
            op => op.operands().iter().any(|o| batched[o.index()]),
        };
        batched.push(b);
    }
    batched
}

fn lit_f32(v: f32) -> TokenStream {
    let lit = proc_macro2::Literal::f32_suffixed(v);
    quote!(#lit)
}

impl Gen<'_> {
    /// The value of `id` for one use: moved on its last use, cloned before.
    fn take(&mut self, id: NodeId) -> TokenStream {
        let name = self.var(id);
        let remaining = &mut self.remaining[id.index()];
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 { quote!(#name) } else { quote!(#name.clone()) }
    }

    /// Whether `id` has one row per batch row (else it is a constant `[1, width]` row).
    fn batched(&self, id: NodeId) -> bool {
        self.batched[id.index()]
    }

    /// A weight-blob tensor field of shape `[rows, cols]`, returning its name.
    fn tensor_field(&mut self, prefix: &str, id: NodeId, values: &[f32], rows: usize, cols: usize) -> Ident {
        let name = format_ident!("{prefix}{}", id.0);
        let offset = self.blob.push(values);
        self.fields.push(quote!(#name: Tensor<2>));
        self.inits.push(quote!(#name: weights.tensor(#offset, #rows, #cols, device)?));
        name
    }

    /// The value of `id` expanded to `[rows, width]` (for ops that do not broadcast).
    fn take_full(&mut self, id: NodeId, width: u32) -> TokenStream {
        let value = self.take(id);
        let w = width as usize;
        if self.batched(id) && self.graph.ty(id).width() == width { value } else { quote!(#value.expand([rows, #w])) }
    }

    /// A width-1 constant operand, inlined as a scalar.
    fn scalar_const(&self, id: NodeId) -> Option<f32> {
        match self.graph.const_values(id) {
            Some([v]) if matches!(self.graph.ty(id), Ty::F32(1)) => Some(*v),
            _ => None,
        }
    }

    fn node(&mut self, id: NodeId) -> TokenStream {
        let graph = self.graph;
        let name = self.var(id);
        let expr = match &graph.node(id).op {
            Op::Category { input, map, missing } => {
                let (table, field, init) = crate::category_table_field(id, map);
                self.fields.push(field);
                self.inits.push(init);
                let input = *input as usize;
                let missing = match missing {
                    Some(m) => quote!(Some(#m)),
                    None => quote!(None),
                };
                return quote! { let #name: Vec<u32> = self.#table.indices(batch.strings(#input), #missing); };
            }
            Op::Const { .. } if self.scalar_only_uses(id) => return TokenStream::new(),
            op => self.op(id, op),
        };
        quote! { let #name = #expr; }
    }

    /// The variable of node `id`: `n7`, or `n7_income` when the node is a named feature.
    fn var(&self, id: NodeId) -> Ident {
        match self.graph.label(id) {
            Some(label) => format_ident!("n{}_{}", id.0, label),
            None => format_ident!("n{}", id.0),
        }
    }

    /// Whether every use of a constant inlines it as a scalar (then it needs no variable).
    fn scalar_only_uses(&self, id: NodeId) -> bool {
        if self.scalar_const(id).is_none() || self.graph.outputs().iter().any(|o| o.node == id) {
            return false;
        }
        self.graph
            .nodes()
            .iter()
            .all(|n| !n.op.operands().contains(&id) || self.scalar_operand(&n.op).is_some_and(|(t, _, _)| t != id))
    }

    /// For a binary op with a width-1 constant on one side and a batched f32 tensor on the
    /// other: the tensor, the constant, and the op as applied with the tensor on the left.
    fn scalar_operand(&self, op: &Op) -> Option<(NodeId, f32, BinaryFn)> {
        let Op::Binary { op, a, b } = op else { return None };
        let usable = |t: NodeId| self.batched(t) && matches!(self.graph.ty(t), Ty::F32(_));
        if let Some(c) = self.scalar_const(*b).filter(|_| usable(*a)) {
            return Some((*a, c, *op));
        }
        let flipped = match op {
            BinaryFn::Add | BinaryFn::Mul | BinaryFn::Min | BinaryFn::Max | BinaryFn::Eq | BinaryFn::Ne => *op,
            BinaryFn::Lt => BinaryFn::Gt,
            BinaryFn::Le => BinaryFn::Ge,
            BinaryFn::Gt => BinaryFn::Lt,
            BinaryFn::Ge => BinaryFn::Le,
            BinaryFn::Sub | BinaryFn::Div | BinaryFn::And | BinaryFn::Or => return None,
        };
        self.scalar_const(*a).filter(|_| usable(*b)).map(|c| (*b, c, flipped))
    }

    fn op(&mut self, id: NodeId, op: &Op) -> TokenStream {
        let graph = self.graph;
        let ty = graph.ty(id);
        let width = ty.width() as usize;
        match op {
            Op::Input { input } => {
                let index = *input as usize;
                match ty {
                    Ty::Bool(_) => quote!(batch.bool_tensor(#index, #width, device)),
                    _ => quote!(batch.f32_tensor(#index, #width, device)),
                }
            }
            Op::Category { .. } => TokenStream::new(),
            Op::Const { values } => {
                let field = self.tensor_field("k", id, values, 1, width);
                match ty {
                    Ty::Bool(_) => quote!(self.#field.clone().greater_elem(0.5)),
                    _ => quote!(self.#field.clone()),
                }
            }
            Op::Unary { op, x } => {
                let x = self.take(*x);
                match op {
                    UnaryFn::Neg => quote!(#x.neg()),
                    UnaryFn::Log => quote!(#x.log()),
                    UnaryFn::Log1p => quote!(#x.log1p()),
                    UnaryFn::Exp => quote!(#x.exp()),
                    UnaryFn::Sqrt => quote!(#x.sqrt()),
                    UnaryFn::Abs => quote!(#x.abs()),
                    UnaryFn::Sigmoid => quote!(activation::sigmoid(#x)),
                    UnaryFn::Relu => quote!(activation::relu(#x)),
                    UnaryFn::Tanh => quote!(#x.tanh()),
                    // burn has floor and ceil: toward zero is the floor of the magnitude.
                    UnaryFn::Trunc => quote!(#x.clone().abs().floor() * #x.sign()),
                    UnaryFn::Not => quote!(#x.bool_not()),
                    UnaryFn::IsMissing => quote!(#x.is_nan()),
                }
            }
            Op::Binary { op: bop, a, b } => self.binary(op, *bop, *a, *b, ty),
            Op::Softmax { x } => {
                let x = self.take(*x);
                quote!(activation::softmax(#x, 1))
            }
            Op::Where { cond, a, b } => {
                let w = ty.width();
                let cond = self.take_full(*cond, w);
                let a = self.take_full(*a, w);
                let b = self.take_full(*b, w);
                quote!(#b.mask_where(#cond, #a))
            }
            Op::Concat { parts } => {
                let parts: Vec<TokenStream> = parts.iter().map(|p| self.take_full(*p, graph.ty(*p).width())).collect();
                quote!(Tensor::cat(vec![#(#parts),*], 1))
            }
            Op::Slice { x, start, len } => {
                let x = self.take(*x);
                let (start, len) = (*start as usize, *len as usize);
                quote!(#x.narrow(1, #start, #len))
            }
            Op::Affine { x, scale, shift } => {
                let x = self.take(*x);
                let s = self.tensor_field("s", id, scale, 1, width);
                let t = self.tensor_field("t", id, shift, 1, width);
                quote!(#x * self.#s.clone() + self.#t.clone())
            }
            Op::Impute { x, value } => {
                let x = self.take(*x);
                let value = lit_f32(*value);
                quote!({ let x = #x; let missing = x.clone().is_nan(); x.mask_fill(missing, #value) })
            }
            Op::OneHot { index } => {
                let table = format_ident!("c{}", index.0);
                let index = self.var(*index);
                quote!(self.#table.one_hot(&#index, device))
            }
            Op::Gather { index, table } => {
                let mut values = table.data.clone();
                values.extend(std::iter::repeat_n(0.0, table.cols as usize));
                let field = self.tensor_field("g", id, &values, table.rows as usize + 1, table.cols as usize);
                let categories = format_ident!("c{}", index.0);
                let index = self.var(*index);
                quote!(self.#field.clone().select(0, self.#categories.index_tensor(&#index, device)))
            }
            Op::Dense { x, weight, bias } => {
                let x = self.take_full(*x, weight.rows);
                let w = self.tensor_field("w", id, &weight.data, weight.rows as usize, weight.cols as usize);
                let b = self.tensor_field("b", id, bias, 1, width);
                quote!(#x.matmul(self.#w.clone()) + self.#b.clone())
            }
            Op::Bucketize { x, boundaries } => {
                let k = boundaries.len();
                let x = self.take_full(*x, 1);
                let q = self.tensor_field("q", id, boundaries, 1, k);
                quote!(#x.expand([rows, #k]).greater_equal(self.#q.clone().expand([rows, #k])).float().sum_dim(1))
            }
            Op::Trees { x, forest } => {
                let words = forest.forest.encode();
                let count = words.len();
                let offset = self.blob.push(&words);
                let field = format_ident!("f{}", id.0);
                self.fields.push(quote!(#field: TensorForest));
                self.inits.push(quote!(#field: TensorForest::new(&weights.forest(#offset, #count)?, device)?));
                let x = self.take_full(*x, forest.forest.features);
                quote!(self.#field.margins(#x))
            }
        }
    }

    fn binary(&mut self, full: &Op, op: BinaryFn, a: NodeId, b: NodeId, ty: Ty) -> TokenStream {
        if let Some((tensor, c, op)) = self.scalar_operand(full) {
            // The constant is inlined: count its use without emitting it.
            let constant = if tensor == a { b } else { a };
            let _ = self.take(constant);
            let x = self.take(tensor);
            let c = lit_f32(c);
            return match op {
                BinaryFn::Add => quote!(#x.add_scalar(#c)),
                BinaryFn::Sub => quote!(#x.sub_scalar(#c)),
                BinaryFn::Mul => quote!(#x.mul_scalar(#c)),
                BinaryFn::Div => quote!(#x.div_scalar(#c)),
                BinaryFn::Min => quote!(#x.clamp_max(#c)),
                BinaryFn::Max => quote!(#x.clamp_min(#c)),
                BinaryFn::Lt => quote!(#x.lower_elem(#c)),
                BinaryFn::Le => quote!(#x.lower_equal_elem(#c)),
                BinaryFn::Gt => quote!(#x.greater_elem(#c)),
                BinaryFn::Ge => quote!(#x.greater_equal_elem(#c)),
                BinaryFn::Eq => quote!(#x.equal_elem(#c)),
                BinaryFn::Ne => quote!(#x.not_equal_elem(#c)),
                // Never chosen for logical ops (`scalar_operand` requires an f32 tensor).
                BinaryFn::And | BinaryFn::Or => quote!(#x),
            };
        }
        let w = ty.width();
        let x = self.take_full(a, w);
        let y = self.take_full(b, w);
        match op {
            BinaryFn::Add => quote!(#x + #y),
            BinaryFn::Sub => quote!(#x - #y),
            BinaryFn::Mul => quote!(#x * #y),
            BinaryFn::Div => quote!(#x / #y),
            BinaryFn::Min => quote!(#x.min_pair(#y)),
            BinaryFn::Max => quote!(#x.max_pair(#y)),
            BinaryFn::Lt => quote!(#x.lower(#y)),
            BinaryFn::Le => quote!(#x.lower_equal(#y)),
            BinaryFn::Gt => quote!(#x.greater(#y)),
            BinaryFn::Ge => quote!(#x.greater_equal(#y)),
            BinaryFn::Eq => quote!(#x.equal(#y)),
            BinaryFn::Ne => quote!(#x.not_equal(#y)),
            BinaryFn::And => quote!(#x.bool_and(#y)),
            BinaryFn::Or => quote!(#x.bool_or(#y)),
        }
    }
}
