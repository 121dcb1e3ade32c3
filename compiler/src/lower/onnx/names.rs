//! Node names as the file writes them. onnx-ir renames every node (`/fc1/Gemm` becomes
//! `gemm1`), so a message about a node finds the file's node of the same operator at the
//! same position among that operator's nodes, which onnx-ir keeps in order.

use onnx_ir::{ModelProto, Node};
use std::collections::HashMap;

pub(super) struct NodeNames {
    /// Per operator (`domain::op_type`, domain omitted for the standard one), the names in
    /// file order.
    by_op: HashMap<String, Vec<String>>,
}

impl NodeNames {
    pub fn new(proto: &ModelProto) -> NodeNames {
        let mut by_op: HashMap<String, Vec<String>> = HashMap::new();
        for node in &proto.graph.node {
            let op = if node.domain.is_empty() || node.domain == "ai.onnx" {
                node.op_type.clone()
            } else {
                format!("{}::{}", node.domain, node.op_type)
            };
            by_op.entry(op).or_default().push(node.name.clone());
            if !node.domain.is_empty() && node.domain != "ai.onnx" {
                // onnx-ir's typed ONNX-ML nodes (Scaler, Imputer, OneHotEncoder) drop the domain.
                by_op.entry(format!("typed:{}", node.op_type)).or_default().push(node.name.clone());
            }
        }
        NodeNames { by_op }
    }

    /// `'name'` for the file's node, or onnx-ir's name when the file's cannot be found (an
    /// operator onnx-ir made by fusing others, or a node without a name).
    pub fn describe(&self, node: &Node, op: &str, ordinal: usize) -> String {
        let names = self.by_op.get(op).or_else(|| self.by_op.get(&format!("typed:{op}")));
        match names.and_then(|names| names.get(ordinal)) {
            Some(name) if !name.is_empty() => format!("`{name}`"),
            _ => format!("`{}` (as onnx-ir names it)", node.name()),
        }
    }
}
