//! The static `SPEC` of a generated crate: names, kinds and shapes of inputs and outputs.

use pipec_compiler::ir::{Graph, InputKind, Ty};
use proc_macro2::TokenStream;
use quote::quote;

pub fn spec_tokens(graph: &Graph) -> TokenStream {
    let name = &graph.name;
    let version = &graph.version;
    let inputs = graph.inputs.iter().map(|input| {
        let name = &input.name;
        let kind = match input.kind {
            InputKind::F32 => quote!(InputKind::F32),
            InputKind::F64 => quote!(InputKind::F64),
            InputKind::I64 => quote!(InputKind::I64),
            InputKind::Bool => quote!(InputKind::Bool),
            InputKind::Str => quote!(InputKind::Str),
        };
        let width = input.width as usize;
        let (is_vector, nullable) = (input.is_vector, input.nullable);
        quote! {
            InputSpec { name: #name, kind: #kind, width: #width, is_vector: #is_vector, nullable: #nullable }
        }
    });
    let outputs = graph.outputs.iter().map(|output| {
        let name = &output.name;
        let ty = graph.ty(output.node);
        let kind = if matches!(ty, Ty::Bool(_)) { quote!(OutputKind::Bool) } else { quote!(OutputKind::F32) };
        let width = ty.width() as usize;
        quote! { OutputSpec { name: #name, kind: #kind, width: #width } }
    });
    quote! {
        /// The pipeline's inputs and outputs, as the server and clients see them.
        pub static SPEC: PipelineSpec = PipelineSpec {
            name: #name,
            version: #version,
            inputs: &[#(#inputs),*],
            outputs: &[#(#outputs),*],
        };
    }
}
