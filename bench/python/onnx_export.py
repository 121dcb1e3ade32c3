"""Convert the examples' fitted scikit-learn pipelines (bench/python/pipelines.py) to ONNX.

Used by bench_reference.py for its `onnxruntime*` engines. Conversion is skl2onnx's, with
float32 inputs (one [N, 1] tensor per DataFrame column) and two additions:

* FunctionTransformer(np.log1p) (titanic's log1p on sibsp and parch): skl2onnx only converts
  FunctionTransformer with func=None (identity) and refuses anything else. We re-register its
  converter for FunctionTransformer so that func=None still converts to Identity/Concat as
  before and func=np.log1p converts to Log(Add(x, 1)) (ONNX has no Log1p operator); any other
  func is still refused. The fitted Pipeline itself is exported unchanged.
* Only `probabilities` is kept as an output (what predict_proba returns; skl2onnx also emits
  `label`, which would be extra work), with ZipMap off.

chain is two Pipelines: each converts on its own (stage 2 takes `risk` as a float input), and
`chain_model` joins them into one graph: stage 1's probabilities[:, 1:2] feed stage 2's `risk`
input, and the graph outputs `risk` and stage 2's `probabilities`.
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import FloatTensorType, StringTensorType, guess_numpy_type
from sklearn.preprocessing import FunctionTransformer

from pipelines import COLUMNS

_FUNCS = (None, np.log1p)


def _function_transformer_shape(operator):
    if operator.raw_operator.func not in _FUNCS:
        raise RuntimeError(f"FunctionTransformer({operator.raw_operator.func}) is not supported")
    n = operator.inputs[0].get_first_dimension()
    widths = [v.type.shape[1] for v in operator.inputs]
    out = operator.outputs[0]
    out.type = operator.inputs[0].type.__class__([n, None if None in widths else sum(widths)])


def _function_transformer_convert(scope, operator, container):
    func = operator.raw_operator.func
    ins = [v.full_name for v in operator.inputs]
    out = operator.outputs[0].full_name
    x = out if func is None else scope.get_unique_variable_name("ft_in")
    if len(ins) > 1:
        container.add_node("Concat", ins, x, axis=1, name=scope.get_unique_operator_name("Concat"))
    else:
        container.add_node("Identity", ins, x, name=scope.get_unique_operator_name("Identity"))
    if func is np.log1p:
        one = scope.get_unique_variable_name("one")
        dtype = guess_numpy_type(operator.inputs[0].type)
        container.initializers.append(numpy_helper.from_array(np.array([1], dtype=dtype), one))
        plus1 = scope.get_unique_variable_name("ft_plus1")
        container.add_node("Add", [x, one], plus1, name=scope.get_unique_operator_name("Add"))
        container.add_node("Log", [plus1], out, name=scope.get_unique_operator_name("Log"))


update_registered_converter(FunctionTransformer, "SklearnFunctionTransformer",
                            _function_transformer_shape, _function_transformer_convert,
                            overwrite=True)


def input_types(columns):
    """skl2onnx initial types: {name: 'f' | 's'} -> [(name, [N, 1] float32 / string)]."""
    return [(c, FloatTensorType([None, 1]) if k == "f" else StringTensorType([None, 1]))
            for c, k in columns.items()]


def feed(columns, frame):
    """The ORT feed dict for a DataFrame (built once, outside any timing)."""
    return {c: (frame[c].to_numpy(np.float32) if k == "f" else frame[c].to_numpy(object))
            .reshape(-1, 1) for c, k in columns.items()}


def _needed(nodes, outputs):
    """The nodes needed to compute `outputs`, in their original (topological) order."""
    want, keep = set(outputs), []
    for node in reversed(nodes):
        if want.intersection(node.output):
            keep.append(node)
            want.update(node.input)
    return keep[::-1]


def _model(nodes, initializers, inputs, outputs, opsets):
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, "pipeline", inputs, outputs,
                              [t for t in initializers if t.name in used])
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.checker.check_model(model)
    return model


def convert(pipeline, columns):
    """skl2onnx conversion of one fitted Pipeline; output `probabilities` [N, 2] only."""
    m = convert_sklearn(pipeline, initial_types=input_types(columns),
                        options={"zipmap": False})
    g = m.graph
    outs = [o for o in g.output if o.name == "probabilities"]
    return _model(_needed(list(g.node), ["probabilities"]), list(g.initializer), list(g.input),
                  outs, list(m.opset_import))


def chain_model(stage1, stage2):
    """One graph: stage 1, then stage 2 on [inputs, risk]; outputs `risk` [N, 1] and
    `probabilities` [N, 2] (stage 2's)."""
    shared = set(COLUMNS["chain"])
    m1 = convert(stage1, COLUMNS["chain"])
    m2 = convert(stage2, {**COLUMNS["chain"], "risk": "f"})
    slice_consts = [numpy_helper.from_array(np.array([v], dtype=np.int64), n)
                    for n, v in [("risk_start", 1), ("risk_end", 2), ("risk_axis", 1)]]
    cut = helper.make_node("Slice", ["probabilities", "risk_start", "risk_end", "risk_axis"],
                           ["risk"], name="risk_slice")

    def ren(name):  # stage 2's names get a prefix, except the shared inputs and `risk`
        return name if name in shared or name in ("risk", "") else "s2_" + name

    nodes2 = []
    for n in m2.graph.node:
        n = onnx.NodeProto.FromString(n.SerializeToString())
        n.input[:] = [ren(x) for x in n.input]
        n.output[:] = [ren(x) for x in n.output]
        n.name = "s2_" + n.name
        nodes2.append(n)
    inits2 = []
    for t in m2.graph.initializer:
        t = onnx.TensorProto.FromString(t.SerializeToString())
        t.name = ren(t.name)
        inits2.append(t)
    risk_out = helper.make_tensor_value_info("risk", onnx.TensorProto.FLOAT, [None, 1])
    p_out = helper.make_tensor_value_info("s2_probabilities", onnx.TensorProto.FLOAT, [None, 2])
    opsets = {}
    for o in list(m1.opset_import) + list(m2.opset_import):
        opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    return _model(list(m1.graph.node) + [cut] + nodes2,
                  list(m1.graph.initializer) + slice_consts + inits2,
                  list(m1.graph.input), [risk_out, p_out],
                  [helper.make_opsetid(d, v) for d, v in opsets.items()])
