//! The static `SPEC` of a generated crate: names, kinds and shapes of inputs and outputs, the
//! role of each computed column, the build identity and the monitor section (JSON). Inputs
//! are written as the IR holds them: both are `pipec_interface::InputSpec`, with owned names
//! in the IR and `&'static str` in the generated crate.

use pipec_compiler::ir::{Graph, Ty};
use pipec_interface::{InputKind, OutputRole};
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
        let width = input.width;
        let (is_vector, nullable) = (input.is_vector, input.nullable);
        quote! {
            InputSpec { name: #name, kind: #kind, width: #width, is_vector: #is_vector, nullable: #nullable }
        }
    });
    let outputs = graph.outputs().iter().map(|output| {
        let name = &output.name;
        let ty = graph.ty(output.node);
        let kind = if matches!(ty, Ty::Bool(_)) { quote!(OutputKind::Bool) } else { quote!(OutputKind::F32) };
        let width = ty.width() as usize;
        let role = match output.role {
            OutputRole::Output => quote!(OutputRole::Output),
            OutputRole::Check => quote!(OutputRole::Check),
            OutputRole::Watch => quote!(OutputRole::Watch),
        };
        quote! { OutputSpec { name: #name, kind: #kind, width: #width, role: #role } }
    });
    let identity = &graph.identity;
    let monitor = match &graph.monitor {
        // Serializing plain data (strings, finite numbers) cannot fail; an empty string would
        // be rejected by the server when it parses it.
        Some(spec) => {
            let json = serde_json::to_string(spec).unwrap_or_default();
            quote!(Some(#json))
        }
        None => quote!(None),
    };
    quote! {
        /// The pipeline's inputs and computed columns (outputs, checks, watched features), as the
        /// server and clients see them.
        pub static SPEC: PipelineSpec = PipelineSpec {
            name: #name,
            version: #version,
            identity: #identity,
            inputs: &[#(#inputs),*],
            outputs: &[#(#outputs),*],
            monitor: #monitor,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::spec_tokens;
    use std::path::Path;

    fn checked(file: &str) -> pipec_compiler::Checked {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/titanic");
        let source = std::fs::read_to_string(dir.join(file)).unwrap();
        pipec_compiler::check_source(&source, &dir).checked.expect("the example checks")
    }

    /// The string literal of the `monitor: Some("...")` field of the SPEC.
    fn monitor_json(tokens: proc_macro2::TokenStream) -> Option<String> {
        let item: syn::ItemStatic = syn::parse2(tokens).ok()?;
        let syn::Expr::Struct(spec) = *item.expr else { return None };
        let field = spec.fields.iter().find(|f| matches!(&f.member, syn::Member::Named(n) if n == "monitor"))?;
        let syn::Expr::Call(call) = &field.expr else { return None };
        match call.args.first()? {
            syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
            _ => None,
        }
    }

    #[test]
    fn roles_identity_and_monitor_json() {
        let checked = checked("titanic_ops.pipe").optimised(&[]);
        let text = spec_tokens(checked.graph()).to_string();
        assert!(text.contains(&format!("identity : \"{}\"", checked.identity())), "{text}");
        for (name, role) in [("p_survived", "Output"), ("sibsp_ok", "Check"), ("age_ok", "Check"), ("age_f", "Watch")] {
            assert!(
                text.contains(&format!("name : \"{name}\"")) && text.contains(&format!("role : OutputRole :: {role}")),
                "{name}: {text}"
            );
        }
        let json = monitor_json(spec_tokens(checked.graph())).expect("monitor: Some(\"...\")");
        let spec: pipec_monitor::MonitorSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(Some(&spec), checked.monitor());
    }

    #[test]
    fn no_monitor_is_none() {
        let checked = checked("titanic.pipe");
        let text = spec_tokens(checked.graph()).to_string();
        assert!(text.contains("monitor : None"), "{text}");
        assert!(!text.contains("OutputRole :: Check") && !text.contains("OutputRole :: Watch"));
    }
}
