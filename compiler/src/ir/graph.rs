//! [`Graph`]: the arena of nodes in topological order, its side tables (spans, labels), the
//! outputs that name its nodes, and the pipeline's metadata. The arena, the side tables and
//! the outputs are private, so the order holds by construction: nodes are only appended
//! ([`Graph::push`], whose operands must already exist), the side tables grow with them, and
//! outputs only name nodes that exist ([`Graph::push_output`]). The metadata (name, version,
//! inputs, identity, monitor) are plain fields.

use super::{InputSpec, Node, NodeId, Op, OutputRole, OutputSpec, Ty};
use pipec_dsl::Span;

/// A whole pipeline as one dataflow graph.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Graph {
    pub name: String,
    pub version: String,
    pub inputs: Vec<InputSpec>,
    nodes: Vec<Node>,
    /// Source span of each node (side table, same length as `nodes`).
    spans: Vec<Span>,
    /// The feature or output name a node was bound to in the source, if any (side table).
    labels: Vec<Option<String>>,
    /// Every [`OutputRole::Output`] first (in declared order), then the checks, then the
    /// watched features.
    outputs: Vec<OutputSpec>,
    /// The build's identity: lowercase hex SHA-256 over the pipec version, the `.pipe` source
    /// and every artifact read while checking (see `crate::identity`); passes keep it.
    pub identity: String,
    /// The `monitor` section with its baselines, computed when the pipeline was checked.
    pub monitor: Option<pipec_monitor::MonitorSpec>,
}

impl Graph {
    /// An empty graph of the pipeline `name`, version `version`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Graph {
        Graph { name: name.into(), version: version.into(), ..Graph::default() }
    }

    /// An empty graph with the metadata of `self` (name, version, inputs, identity, monitor).
    pub fn empty_like(&self) -> Graph {
        Graph {
            name: self.name.clone(),
            version: self.version.clone(),
            inputs: self.inputs.clone(),
            identity: self.identity.clone(),
            monitor: self.monitor.clone(),
            ..Graph::default()
        }
    }

    /// The nodes, in topological order (indexed by [`NodeId`]).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Every named column the pipeline computes: the outputs, then the checks, then the
    /// watched features; every pass keeps all of them (they are the roots of dead-code
    /// elimination).
    pub fn outputs(&self) -> &[OutputSpec] {
        &self.outputs
    }

    /// The outputs of the `output` section (returned to clients), in declared order.
    pub fn public_outputs(&self) -> impl Iterator<Item = &OutputSpec> + '_ {
        self.outputs.iter().filter(|o| o.role == OutputRole::Output)
    }

    /// The `checks` entries, in declared order.
    pub fn checks(&self) -> impl Iterator<Item = &OutputSpec> + '_ {
        self.outputs.iter().filter(|o| o.role == OutputRole::Check)
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn ty(&self, id: NodeId) -> Ty {
        self.nodes[id.index()].ty
    }

    /// The source span of node `id`.
    pub fn span(&self, id: NodeId) -> Span {
        self.spans[id.index()]
    }

    /// The feature or output name node `id` was bound to in the source, if any.
    pub fn label(&self, id: NodeId) -> Option<&str> {
        self.labels[id.index()].as_deref()
    }

    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// Appends a node; operands must already exist.
    pub fn push(&mut self, op: Op, ty: Ty, span: Span) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        debug_assert!(op.operands().iter().all(|o| o.0 < id.0), "operands precede their node");
        self.nodes.push(Node { op, ty });
        self.spans.push(span);
        self.labels.push(None);
        id
    }

    /// Names node `id` with `label` unless it already has a name (the first binding wins).
    pub fn label_if_unnamed(&mut self, id: NodeId, label: &str) {
        self.labels[id.index()].get_or_insert_with(|| label.to_string());
    }

    /// Appends a named column; its node must already exist. Outputs come first, then checks,
    /// then watched features ([`Graph::outputs`]).
    pub fn push_output(&mut self, output: OutputSpec) {
        debug_assert!(output.node.index() < self.nodes.len(), "an output names an existing node");
        self.outputs.push(output);
    }

    /// How many times each node is used as an operand or an output.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.nodes.len()];
        for node in &self.nodes {
            for operand in node.op.operands() {
                counts[operand.index()] += 1;
            }
        }
        for output in &self.outputs {
            counts[output.node.index()] += 1;
        }
        counts
    }

    /// The constant values of `id`, if it is a constant.
    pub fn const_values(&self, id: NodeId) -> Option<&[f32]> {
        match &self.node(id).op {
            Op::Const { values } => Some(values),
            _ => None,
        }
    }
}
