//! Rebuilding a graph node by node, the common machinery of the passes.

use crate::ir::{Graph, NodeId, Op, OutputSpec, Ty};
use pipec_dsl::Span;

/// Copies an old graph into a new one in order, remembering where each old node went.
pub struct Rebuild<'g> {
    pub old: &'g Graph,
    pub new: Graph,
    map: Vec<NodeId>,
}

impl<'g> Rebuild<'g> {
    pub fn new(old: &'g Graph) -> Self {
        Rebuild { old, new: old.empty_like(), map: Vec::with_capacity(old.nodes().len()) }
    }

    /// Marks the node being visited as dropped; nothing kept may refer to it.
    pub fn drop_node(&mut self) {
        self.map.push(NodeId(u32::MAX));
    }

    /// Where old node `id` went (it must have been visited already).
    pub fn get(&self, id: NodeId) -> NodeId {
        self.map[id.index()]
    }

    /// Records that old node number `map.len()` (the one being visited) became `new`.
    pub fn set(&mut self, new: NodeId) {
        self.map.push(new);
    }

    /// The op of old node `id` with its operands remapped into the new graph.
    pub fn remapped(&self, id: NodeId) -> Op {
        self.old.node(id).op.map_operands(|o| self.get(o))
    }

    pub fn push(&mut self, op: Op, ty: Ty, span: Span) -> NodeId {
        self.new.push(op, ty, span)
    }

    /// Copies old node `id` unchanged (operands remapped) and records it.
    pub fn copy(&mut self, id: NodeId) -> NodeId {
        let op = self.remapped(id);
        let new = self.push(op, self.old.ty(id), self.old.span(id));
        self.set(new);
        new
    }

    /// Finishes: outputs (of every role) remapped, source labels carried to the nodes that replaced theirs.
    pub fn finish(mut self) -> Graph {
        for (old, new) in self.old.ids().zip(&self.map) {
            let Some(label) = self.old.label(old) else { continue };
            if new.index() < self.new.nodes().len() {
                self.new.label_if_unnamed(*new, label);
            }
        }
        for o in self.old.outputs() {
            self.new.push_output(OutputSpec { name: o.name.clone(), node: self.map[o.node.index()], role: o.role });
        }
        self.new
    }
}
