//! Optimisation passes: each a function from [`Graph`] to [`Graph`], in its own file.
//!
//! Order (see [`optimise`]) and why:
//! 1. `const_fold` first, so later passes see literal constants and flat concatenations.
//! 2. `cse` merges repeated sub-expressions (a feature written twice, one model called twice
//!    on the same input).
//! 3. `affine_fold` folds standardize / min_max / scaling, and constant `sub`/`add`/`mul`/`div`
//!    chains (ONNX scalers), into the following dense layer.
//! 4. `onehot_gather` turns one-hot into a dense layer into a row gather of its weights; it
//!    runs after `affine_fold` so that both see the same concatenation.
//! 5. `const_fold` and `cse` again to clean up what 3 and 4 produced, then `dce` drops every
//!    node no output needs (the affine nodes folded away, features nobody reads).
//!
//! Every pass keeps the nodes in topological order, which is why they rebuild the graph
//! through [`Rebuild`] rather than editing it in place.

mod affine_fold;
mod const_fold;
mod cse;
mod dce;
mod onehot_gather;
mod rebuild;

#[cfg(test)]
mod test_util;

pub use affine_fold::affine_fold;
pub use const_fold::const_fold;
pub use cse::cse;
pub use dce::dce;
pub use onehot_gather::onehot_gather;
pub use rebuild::Rebuild;

use crate::ir::Graph;

/// A pass by name, so that tools and benchmarks can switch each one off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pass {
    ConstFold,
    Cse,
    AffineFold,
    OnehotGather,
    Dce,
}

impl Pass {
    pub const ALL: [Pass; 5] = [Pass::ConstFold, Pass::Cse, Pass::AffineFold, Pass::OnehotGather, Pass::Dce];

    pub fn name(self) -> &'static str {
        match self {
            Pass::ConstFold => "const-fold",
            Pass::Cse => "cse",
            Pass::AffineFold => "affine-fold",
            Pass::OnehotGather => "onehot-gather",
            Pass::Dce => "dce",
        }
    }

    pub fn from_name(name: &str) -> Option<Pass> {
        Pass::ALL.into_iter().find(|p| p.name() == name)
    }

    fn run(self, graph: &Graph) -> Graph {
        match self {
            Pass::ConstFold => const_fold(graph),
            Pass::Cse => cse(graph),
            Pass::AffineFold => affine_fold(graph),
            Pass::OnehotGather => onehot_gather(graph),
            Pass::Dce => dce(graph),
        }
    }
}

/// Runs the standard pipeline of passes, skipping those in `disabled`.
pub fn optimise(graph: &Graph, disabled: &[Pass]) -> Graph {
    const ORDER: [Pass; 7] =
        [Pass::ConstFold, Pass::Cse, Pass::AffineFold, Pass::OnehotGather, Pass::ConstFold, Pass::Cse, Pass::Dce];
    let mut graph = graph.clone();
    for pass in ORDER {
        if !disabled.contains(&pass) {
            graph = pass.run(&graph);
        }
    }
    graph
}
