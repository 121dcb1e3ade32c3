"""onnxruntime's outputs for ONNX-ML tree ensembles, for `forest/tests/onnx.rs`.

Run with the benchmark's venv (onnx 1.23, onnxruntime 1.32, scikit-learn, skl2onnx):

    target/bench-venv/bin/python forest/tests/onnx_reference.py

It writes `forest/tests/onnx_reference.json`: for each case, the operator's attributes as
the compiler reads them (the fields of `OnnxTreeEnsemble` / `OnnxUnifiedTreeEnsemble`),
input rows (null is NaN, infinities as strings), onnxruntime's float output (`"nan"`,
`"inf"`, `"-inf"` as strings; none for refused cases) and `expect`: "ok" (pipec must import
it and match onnxruntime) or "unsupported" (pipec must refuse it with
`ImportError::Unsupported`). The cases: hand-written tables (each split mode, NaN,
multi-target leaves, AVERAGE, base values, every binary-classifier rule, opset 5), random
ensembles limited to what the importer supports, and small scikit-learn models converted by
skl2onnx. With `--print NAME` it prints one case's rows and outputs instead (the Rust tests
quote some inline).
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = Path(__file__).with_name("onnx_reference.json")
f32 = np.float32


def make_model(node, features, dtype):
    ttype = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    inputs = [helper.make_tensor_value_info("X", ttype, [None, features])]
    if node.op_type == "TreeEnsembleClassifier":
        outputs = [
            helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, None]),
        ]
    else:
        out_type = ttype if node.op_type == "TreeEnsemble" else TensorProto.FLOAT
        outputs = [helper.make_tensor_value_info("Y", out_type, [None, None])]
    graph = helper.make_graph([node], "g", inputs, outputs)
    ml = 5 if node.op_type == "TreeEnsemble" else 3
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", ml)],
    )
    model.ir_version = 10
    return model


def run(node, x, dtype=np.float32):
    model = make_model(node, x.shape[1], dtype)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x.astype(dtype)})[-1].astype(np.float32)


def node_v3(op, **attrs):
    return helper.make_node(op, ["X"], ["label", "Y"] if "Classifier" in op else ["Y"],
                            domain="ai.onnx.ml", **attrs)


def node_v5(**attrs):
    return helper.make_node("TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", **attrs)


def read_attrs(node):
    """The node's attributes as the compiler fills OnnxTreeEnsemble/OnnxUnifiedTreeEnsemble."""
    a = {}
    for attr in node.attribute:
        v = helper.get_attribute_value(attr)
        if isinstance(v, onnx.TensorProto):
            v = numpy_helper.to_array(v)
            a[attr.name] = (v.tolist(), v.dtype == np.float64)
        elif isinstance(v, bytes):
            a[attr.name] = v.decode()
        elif isinstance(v, list):
            a[attr.name] = [s.decode() if isinstance(s, bytes) else s for s in v]
        else:
            a[attr.name] = v
    fl = lambda v: [float(f) for f in v]
    if node.op_type == "TreeEnsemble":
        splits, splits_double = a["nodes_splits"]
        return {
            "nodes_featureids": a["nodes_featureids"],
            "nodes_splits": fl(splits),
            "nodes_splits_are_double": splits_double,
            "nodes_modes": a["nodes_modes"][0],
            "nodes_truenodeids": a["nodes_truenodeids"],
            "nodes_trueleafs": a["nodes_trueleafs"],
            "nodes_falsenodeids": a["nodes_falsenodeids"],
            "nodes_falseleafs": a["nodes_falseleafs"],
            "nodes_missing_value_tracks_true": a.get("nodes_missing_value_tracks_true", []),
            "membership_values": fl(a.get("membership_values", ([], False))[0]),
            "leaf_targetids": a["leaf_targetids"],
            "leaf_weights": fl(a["leaf_weights"][0]),
            "tree_roots": a["tree_roots"],
            "n_targets": a["n_targets"],
            "aggregate_function": a.get("aggregate_function", 1),
            "post_transform": a.get("post_transform", 0),
        }
    classifier = node.op_type == "TreeEnsembleClassifier"
    p = "class_" if classifier else "target_"
    if "nodes_values_as_tensor" in a:
        values, double = a["nodes_values_as_tensor"][0], True
    else:
        values, double = a["nodes_values"], False
    weights = a[p + "weights_as_tensor"][0] if p + "weights_as_tensor" in a else a[p + "weights"]
    base = a["base_values_as_tensor"][0] if "base_values_as_tensor" in a else a.get("base_values", [])
    if classifier:
        n = len(a.get("classlabels_int64s", a.get("classlabels_strings", [])))
    else:
        n = a["n_targets"]
    return {
        "kind": "classifier" if classifier else "regressor",
        "nodes_treeids": a["nodes_treeids"],
        "nodes_nodeids": a["nodes_nodeids"],
        "nodes_featureids": a["nodes_featureids"],
        "nodes_modes": a["nodes_modes"],
        "nodes_values": fl(values),
        "nodes_values_are_double": double,
        "nodes_truenodeids": a["nodes_truenodeids"],
        "nodes_falsenodeids": a["nodes_falsenodeids"],
        "nodes_missing_value_tracks_true": a.get("nodes_missing_value_tracks_true", []),
        "weight_treeids": a[p + "treeids"],
        "weight_nodeids": a[p + "nodeids"],
        "weight_ids": a[p + "ids"],
        "weights": fl(weights),
        "base_values": fl(base),
        "n_targets_or_classes": n,
        "aggregate_function": a.get("aggregate_function", "SUM"),
        "post_transform": a.get("post_transform", "NONE"),
    }


def enc(v):
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


CASES = []


def case(name, node, x, expect="ok", dtype=np.float32):
    x = np.asarray(x, dtype=np.float32)
    renamed = onnx.NodeProto()
    renamed.CopyFrom(node)
    del renamed.input[:], renamed.output[:]
    renamed.input.append("X")
    renamed.output.extend(["label", "Y"] if node.op_type == "TreeEnsembleClassifier" else ["Y"])
    node = renamed
    try:
        y = run(node, x, dtype)
    except Exception as e:  # onnxruntime rejects it too
        if expect == "ok":
            raise RuntimeError(f"{name}: {e}")
        y = None
    CASES.append({
        "name": name,
        "op": node.op_type,
        "features": int(x.shape[1]),
        "attrs": read_attrs(node),
        "x": [[None if np.isnan(v) else enc(v) for v in row] for row in x],
        # Refused cases keep no output: some leave onnxruntime's second score unset.
        "y": None if y is None or expect != "ok" else [[enc(v) for v in row] for row in y],
        "expect": expect,
    })


def stumps(op, stumps_, **kw):
    """Trees `x[f] MODE t ? w_true : w_false`; each stump is (tree, f, mode, t, true, false)
    where `true`/`false` are lists of (target, weight)."""
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids"]}
    p = "class_" if "Classifier" in op else "target_"
    w = {p + k: [] for k in ["treeids", "nodeids", "ids", "weights"]}
    for (t, f, mode, thr, wt, wf) in stumps_:
        a["nodes_treeids"] += [t, t, t]
        a["nodes_nodeids"] += [0, 1, 2]
        a["nodes_featureids"] += [f, 0, 0]
        a["nodes_modes"] += [mode, "LEAF", "LEAF"]
        a["nodes_values"] += [thr, 0.0, 0.0]
        a["nodes_truenodeids"] += [1, 0, 0]
        a["nodes_falsenodeids"] += [2, 0, 0]
        for nid, ws in [(1, wt), (2, wf)]:
            for k, v in ws:
                w[p + "treeids"].append(t)
                w[p + "nodeids"].append(nid)
                w[p + "ids"].append(k)
                w[p + "weights"].append(v)
    a.update(w)
    a.update(kw)
    return node_v3(op, **a)


REG, CLF = "TreeEnsembleRegressor", "TreeEnsembleClassifier"
X1 = [[-1.0], [0.0], [0.25], [0.5], [1.0], [np.nan], [np.inf], [-np.inf]]


def hand_written():
    t = float(f32(0.25))
    for mode in ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]:
        for tracks in [0, 1]:
            case(f"mode_{mode}_nan_{tracks}",
                 stumps(REG, [(0, 0, mode, t, [(0, 1.0)], [(0, 2.0)])], n_targets=1,
                        nodes_missing_value_tracks_true=[tracks, 0, 0]), X1)
    # Thresholds between f32s, compared in double (double input, nodes_values_as_tensor).
    x = f32(0.1)
    xs = [[float(np.nextafter(x, f32(0)))], [float(x)], [float(np.nextafter(x, f32(1)))], [np.nan]]
    for mode in ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]:
        for thr in [0.1, float(x)]:
            a = dict(nodes_treeids=[0, 0, 0], nodes_nodeids=[0, 1, 2], nodes_featureids=[0, 0, 0],
                     nodes_modes=[mode, "LEAF", "LEAF"], nodes_truenodeids=[1, 0, 0],
                     nodes_falsenodeids=[2, 0, 0], target_treeids=[0, 0], target_nodeids=[1, 2],
                     target_ids=[0, 0], target_weights=[1.0, 2.0], n_targets=1,
                     nodes_values_as_tensor=numpy_helper.from_array(np.array([thr, 0, 0])))
            case(f"double_{mode}_{thr!r}", node_v3(REG, **a), xs, dtype=np.float64)
    # Two trees over two features, two targets, leaves with both targets, AVERAGE and bases.
    two = [(0, 0, "BRANCH_LEQ", 0.5, [(0, 1.0), (1, 10.0)], [(0, 2.0), (1, 20.0)]),
           (1, 1, "BRANCH_LT", -0.5, [(0, 0.25), (1, -4.0)], [(1, 3.0), (0, 0.5)])]
    X2 = [[0.0, 0.0], [1.0, -1.0], [np.nan, -0.5], [0.5, np.nan]]
    case("multi_target_sum", stumps(REG, two, n_targets=2), X2)
    case("multi_target_average_base", stumps(REG, two, n_targets=2, aggregate_function="AVERAGE",
                                             base_values=[100.0, -100.0]), X2)
    case("multi_target_softmax", stumps(REG, two, n_targets=2, post_transform="SOFTMAX"), X2)
    case("multi_target_logistic", stumps(REG, two, n_targets=2, post_transform="LOGISTIC"), X2)
    case("multi_target_probit", stumps(REG, [(0, 0, "BRANCH_LEQ", 0.5, [(0, 0.3), (1, 0.9)],
                                              [(0, 0.5), (1, 0.01)])],
                                       n_targets=2, post_transform="PROBIT"), X2)
    case("multi_target_softmax_zero", stumps(REG, two, n_targets=2, post_transform="SOFTMAX_ZERO"),
         X2, expect="unsupported")
    # Target 1 only on some leaves: 0 without a base value, unsupported with one.
    some = [(0, 0, "BRANCH_LEQ", 0.5, [(0, 1.0)], [(1, 2.0)])]
    case("target_sometimes_no_base", stumps(REG, some, n_targets=2), X2)
    case("target_sometimes_base", stumps(REG, some, n_targets=2, base_values=[5.0, 7.0]), X2,
         expect="unsupported")
    # Target 2 never scored: written as 0, its base value ignored.
    case("target_never_base", stumps(REG, two, n_targets=3, base_values=[1.0, 2.0, 3.0]), X2)
    # One target: only PROBIT applies; AVERAGE over the runs of tree ids; first weight only.
    one = [(0, 0, "BRANCH_LEQ", 0.5, [(0, 0.2)], [(0, 0.7)]),
           (1, 1, "BRANCH_GT", 0.0, [(0, 0.1)], [(0, 0.05), (0, 9.0)]),
           (2, 0, "BRANCH_GTE", 1.0, [(0, 0.0)], [(0, -0.4)])]
    for post in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
        case(f"one_target_{post}", stumps(REG, one, n_targets=1, post_transform=post,
                                          base_values=[0.125]), X2)
    case("one_target_average", stumps(REG, one, n_targets=1, aggregate_function="AVERAGE",
                                      base_values=[1.5]), X2)
    case("aggregate_min", stumps(REG, one, n_targets=1, aggregate_function="MIN"), X2,
         expect="unsupported")
    case("mode_eq", stumps(REG, [(0, 0, "BRANCH_EQ", 1.0, [(0, 1.0)], [(0, 2.0)])], n_targets=1),
         X1, expect="unsupported")
    # Tree ids not contiguous: three runs, so AVERAGE divides by 3; the third run's root is a
    # leaf of tree 0.
    a = dict(nodes_treeids=[0, 0, 1, 1, 1, 0], nodes_nodeids=[0, 1, 0, 1, 2, 2],
             nodes_featureids=[0] * 6,
             nodes_modes=["BRANCH_LEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF", "LEAF"],
             nodes_values=[0.5] * 6, nodes_truenodeids=[1, 0, 1, 0, 0, 0],
             nodes_falsenodeids=[2, 0, 2, 0, 0, 0], target_treeids=[0, 0, 1, 1],
             target_nodeids=[1, 2, 1, 2], target_ids=[0] * 4, target_weights=[1.0, 2.0, 10.0, 20.0],
             n_targets=1, aggregate_function="AVERAGE")
    case("interleaved_tree_ids", node_v3(REG, **a), X1)
    # A subtree reached from two parents.
    a = dict(nodes_treeids=[0] * 4, nodes_nodeids=[0, 1, 2, 3], nodes_featureids=[0] * 4,
             nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ", "LEAF", "LEAF"],
             nodes_values=[0.5, -0.5, 0, 0], nodes_truenodeids=[1, 2, 0, 0],
             nodes_falsenodeids=[2, 3, 0, 0], target_treeids=[0, 0], target_nodeids=[2, 3],
             target_ids=[0, 0], target_weights=[1.0, 2.0], n_targets=1)
    case("shared_subtree", node_v3(REG, **a), X1)

    # Binary classifiers: every base-value count, weights on class 0, 1 or both, all positive
    # or mixed, every transform.
    weightings = {
        "class0_positive": [(0, 0, "BRANCH_LEQ", 0.5, [(0, 0.2)], [(0, 0.7)]),
                            (1, 1, "BRANCH_LEQ", 0.0, [(0, 0.1)], [(0, 0.05)])],
        "class0_mixed": [(0, 0, "BRANCH_LEQ", 0.5, [(0, -0.2)], [(0, 0.7)]),
                         (1, 1, "BRANCH_LEQ", 0.0, [(0, 0.1)], [(0, 0.05)])],
        "class1_positive": [(0, 0, "BRANCH_LEQ", 0.5, [(1, 0.2)], [(1, 0.7)]),
                            (1, 1, "BRANCH_LEQ", 0.0, [(1, 0.1)], [(1, 0.05)])],
        "both_every_leaf": [(0, 0, "BRANCH_LEQ", 0.5, [(0, 0.8), (1, 0.2)], [(0, 0.3), (1, 0.7)]),
                            (1, 1, "BRANCH_LEQ", 0.0, [(0, -0.1), (1, 0.1)], [(1, 0.05), (0, 0.4)])],
        "both_split_trees": [(0, 0, "BRANCH_LEQ", 0.5, [(0, -0.2)], [(0, 0.7)]),
                             (1, 1, "BRANCH_LEQ", 0.0, [(1, 0.1)], [(1, 0.05)])],
        "class1_some_leaves": [(0, 0, "BRANCH_LEQ", 0.5, [(0, -0.2)], [(1, 0.7)])],
    }
    for wname, st in weightings.items():
        for base in [None, [0.3], [0.3, 0.4]]:
            for post in ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]:
                kw = dict(classlabels_int64s=[0, 1], post_transform=post)
                if base:
                    kw["base_values"] = base
                expect = binary_expectation(wname, base, post)
                name = f"binary_{wname}_base{len(base or [])}_{post}"
                case(name, stumps(CLF, st, **kw), X2, expect=expect)
    # A class-1 weight on a split node: ignored, but it makes the weights name two classes
    # (no binary_case), so one score with no base value is written [-s, s] although every
    # weight is positive, and with one base value only the first output is written.
    for base in [None, [0.3]]:
        for post in ["NONE", "LOGISTIC"]:
            kw = dict(classlabels_int64s=[0, 1], post_transform=post)
            if base:
                kw["base_values"] = base
            node = stumps(CLF, [(0, 0, "BRANCH_LEQ", 0.5, [(0, 0.2)], [(0, 0.7)])], **kw)
            for attr in node.attribute:
                extra = {"class_treeids": 0, "class_nodeids": 0, "class_ids": 1}.get(attr.name)
                if extra is not None:
                    attr.ints.append(extra)
                elif attr.name == "class_weights":
                    attr.floats.append(0.5)
            case(f"binary_split_node_class1_base{len(base or [])}_{post}", node, X2,
                 expect="unsupported" if base else "ok")
    three = [(0, 0, "BRANCH_LEQ", 0.5, [(0, -0.2), (2, 1.0)], [(1, 0.7)]),
             (1, 1, "BRANCH_LT", 0.0, [(1, 0.1)], [(2, 0.05), (0, 0.5)])]
    for post in ["NONE", "LOGISTIC", "SOFTMAX", "PROBIT"]:
        case(f"three_classes_{post}", stumps(CLF, three, classlabels_int64s=[0, 1, 2],
                                             post_transform=post, base_values=[0.1, 0.2, 0.3]), X2)
    case("three_classes_softmax_zero", stumps(CLF, three, classlabels_int64s=[0, 1, 2],
                                              post_transform="SOFTMAX_ZERO"), X2,
         expect="unsupported")

    # Opset 5: two trees, two targets; a one-leaf tree; GT splits; NaN to the true branch.
    def v5(n_targets, post=0, agg=1, dtype=np.float32, splits=(0.5, -0.5), leaf_tree=False):
        a = dict(n_targets=n_targets, nodes_featureids=[0, 1],
                 nodes_splits=numpy_helper.from_array(np.array(splits, dtype)),
                 nodes_modes=numpy_helper.from_array(np.array([0, 3], np.uint8)),
                 nodes_truenodeids=[0, 2], nodes_trueleafs=[1, 1], nodes_falsenodeids=[1, 3],
                 nodes_falseleafs=[1, 1], nodes_missing_value_tracks_true=[0, 1], tree_roots=[0, 1],
                 leaf_targetids=[0, n_targets - 1, n_targets - 1, 0],
                 leaf_weights=numpy_helper.from_array(np.array([0.25, 0.5, 0.1, -0.3], dtype)),
                 aggregate_function=agg, post_transform=post)
        if leaf_tree:  # a third tree: node 2, whose branches are both leaf 4 (weight 100)
            for k, v in [("nodes_featureids", 0), ("nodes_truenodeids", 4), ("nodes_trueleafs", 1),
                         ("nodes_falsenodeids", 4), ("nodes_falseleafs", 1),
                         ("nodes_missing_value_tracks_true", 0), ("tree_roots", 2),
                         ("leaf_targetids", 0)]:
                a[k] = a[k] + [v]
            a["nodes_splits"] = numpy_helper.from_array(np.array(list(splits) + [0], dtype))
            a["nodes_modes"] = numpy_helper.from_array(np.array([0, 3, 0], np.uint8))
            a["leaf_weights"] = numpy_helper.from_array(
                np.array([0.25, 0.5, 0.1, -0.3, 100.0], dtype))
        return node_v5(**a)
    X5 = [[0.0, 0.0], [1.0, -1.0], [np.nan, np.nan], [0.5, -0.5]]
    for post in range(5):
        case(f"v5_two_targets_post{post}", v5(2, post=post), X5,
             expect="unsupported" if post == 3 else "ok")
        case(f"v5_one_target_post{post}", v5(1, post=post), X5)
    case("v5_average_leaf_tree", v5(1, agg=0, leaf_tree=True), X5)
    case("v5_max", v5(1, agg=3), X5, expect="unsupported")
    case("v5_double", v5(2, dtype=np.float64, splits=(0.1, -0.1)),
         [[float(f32(0.1)), float(-f32(0.1))], [float(np.nextafter(f32(0.1), f32(0))), 0.0]],
         dtype=np.float64)


def binary_expectation(wname, base, post):
    """What the importer must say about the binary cases (see onnx/mod.rs)."""
    nb = len(base or [])
    if wname == "class1_some_leaves":
        return "unsupported"
    if wname == "class1_positive" and nb == 2:
        return "unsupported"
    class1_never = wname.startswith("class0")
    if class1_never and nb < 2:
        return "unsupported" if post == "PROBIT" else "ok"
    return "unsupported" if post == "SOFTMAX_ZERO" else "ok"


def random_cases(seed=7, count=120):
    rng = np.random.default_rng(seed)
    modes = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"]
    thresholds = [-1.0, -0.5, 0.0, 0.5, 1.0, float(f32(0.3))]
    grid = [-1.0, -0.5, 0.0, 0.3, 0.5, 1.0, np.nan]
    made = 0
    attempt = 0
    while made < count:
        attempt += 1
        kind = ["reg1", "reg", "clf2", "clf3", "v5"][attempt % 5]
        F = 3
        if kind == "reg1":
            n, pattern, bases = 1, "random", [0, 1]
            posts = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
        elif kind == "reg":
            n = int(rng.integers(2, 4))
            pattern = str(rng.choice(["all", "random"]))
            bases = [0, n] if pattern == "all" else [0]
            posts = ["NONE", "LOGISTIC", "SOFTMAX", "PROBIT"]
        elif kind == "clf3":
            n, pattern, bases = 3, "random", [0, 3]
            posts = ["NONE", "LOGISTIC", "SOFTMAX", "PROBIT"]
        elif kind == "clf2":
            n = 2
            pattern = str(rng.choice(["all", "single0", "single1"]))
            bases = {"all": [0, 1, 2], "single0": [0, 1, 2], "single1": [0, 1]}[pattern]
            posts = ["NONE", "LOGISTIC", "SOFTMAX", "PROBIT", "SOFTMAX_ZERO"]
        else:
            n, pattern, bases = int(rng.integers(1, 4)), "random", [0]
            posts = [0, 1, 2, 4] + ([3] if n == 1 else [])
        nb = int(rng.choice(bases))
        post = posts[int(rng.integers(0, len(posts)))]
        if kind == "clf2":
            single = pattern == "single0" and nb < 2
            if (single and post == "PROBIT") or (not single and post == "SOFTMAX_ZERO"):
                continue
        positive = rng.random() < 0.3

        def weights_for_leaf():
            if pattern == "all":
                ks = list(range(n))
            elif pattern == "single0":
                ks = [0]
            elif pattern == "single1":
                ks = [1]
            else:
                ks = sorted(set(rng.integers(0, n, int(rng.integers(1, 3))).tolist()))
            out = []
            for k in ks:
                w = float(f32(rng.uniform(-1, 1)))
                out.append((k, abs(w) if positive else w))
            return out

        trees = []
        for t in range(int(rng.integers(1, 5))):
            nodes = []

            def grow(depth):
                i = len(nodes)
                nodes.append(None)
                if depth == 0 or rng.random() < 0.25:
                    nodes[i] = ("leaf", weights_for_leaf())
                    return i
                spec = (int(rng.integers(0, F)), modes[int(rng.integers(0, 4))],
                        thresholds[int(rng.integers(0, len(thresholds)))], int(rng.random() < 0.5))
                tt = grow(depth - 1)
                ff = grow(depth - 1)
                nodes[i] = ("split", spec, tt, ff)
                return i
            grow(int(rng.integers(0, 4)))
            trees.append(nodes)
        x = [[grid[int(rng.integers(0, len(grid)))] for _ in range(F)] for _ in range(10)]
        if kind == "v5":
            node = v5_from(trees, n, post, int(rng.integers(0, 2)))
        else:
            node = v3_from(trees, kind, n, post, nb, rng)
        try:
            run(node, np.array(x, np.float32))
        except Exception:
            continue  # e.g. onnxruntime's narrowing_error on a row that scores no class
        case(f"random_{made:03}_{kind}_{pattern}", node, x)
        made += 1


def v3_from(trees, kind, n, post, nb, rng):
    op = CLF if kind.startswith("clf") else REG
    p = "class_" if op == CLF else "target_"
    a = {k: [] for k in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                         "nodes_missing_value_tracks_true", p + "treeids", p + "nodeids",
                         p + "ids", p + "weights"]}
    for t, nodes in enumerate(trees):
        for i, nd in enumerate(nodes):
            a["nodes_treeids"].append(t)
            a["nodes_nodeids"].append(i)
            if nd[0] == "leaf":
                a["nodes_featureids"].append(0)
                a["nodes_modes"].append("LEAF")
                a["nodes_values"].append(0.0)
                a["nodes_truenodeids"].append(0)
                a["nodes_falsenodeids"].append(0)
                a["nodes_missing_value_tracks_true"].append(0)
                for k, w in nd[1]:
                    a[p + "treeids"].append(t)
                    a[p + "nodeids"].append(i)
                    a[p + "ids"].append(k)
                    a[p + "weights"].append(w)
            else:
                (f, mode, thr, tracks), tt, ff = nd[1], nd[2], nd[3]
                a["nodes_featureids"].append(f)
                a["nodes_modes"].append(mode)
                a["nodes_values"].append(thr)
                a["nodes_truenodeids"].append(tt)
                a["nodes_falsenodeids"].append(ff)
                a["nodes_missing_value_tracks_true"].append(tracks)
    a["post_transform"] = post
    if nb:
        a["base_values"] = [float(f32(v)) for v in rng.uniform(-1, 1, nb)]
    if op == CLF:
        a["classlabels_int64s"] = list(range(n))
    else:
        a["n_targets"] = n
        a["aggregate_function"] = str(rng.choice(["SUM", "AVERAGE"]))
    return node_v3(op, **a)


def v5_from(trees, n, post, average):
    interior, leaves, roots = [], [], []
    def visit(nodes, i):
        nd = nodes[i]
        if nd[0] == "leaf":
            j = len(leaves)
            k, w = nd[1][0]
            leaves.append((k, w))
            return True, j
        pos = len(interior)
        interior.append(None)
        t = visit(nodes, nd[2])
        f = visit(nodes, nd[3])
        interior[pos] = (nd[1], t, f)
        return False, pos
    for nodes in trees:
        leaf, idx = visit(nodes, 0)
        if leaf:  # a one-leaf tree: a node whose branches are that leaf
            interior.append(((0, "BRANCH_LEQ", 0.0, 0), (True, idx), (True, idx)))
            idx = len(interior) - 1
        roots.append(idx)
    mode_code = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3}
    return node_v5(
        n_targets=n,
        nodes_featureids=[s[0][0] for s in interior],
        nodes_splits=numpy_helper.from_array(np.array([s[0][2] for s in interior], np.float32)),
        nodes_modes=numpy_helper.from_array(np.array([mode_code[s[0][1]] for s in interior], np.uint8)),
        nodes_missing_value_tracks_true=[s[0][3] for s in interior],
        nodes_truenodeids=[s[1][1] for s in interior],
        nodes_trueleafs=[int(s[1][0]) for s in interior],
        nodes_falsenodeids=[s[2][1] for s in interior],
        nodes_falseleafs=[int(s[2][0]) for s in interior],
        tree_roots=roots,
        leaf_targetids=[k for k, _ in leaves],
        leaf_weights=numpy_helper.from_array(np.array([w for _, w in leaves], np.float32)),
        aggregate_function=0 if average else 1,
        post_transform=post,
    )


def sklearn_cases():
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.tree import DecisionTreeClassifier

    # skl2onnx 1.20 passes numpy bools in INTS attributes (HistGradientBoosting's
    # nodes_missing_value_tracks_true), which onnx 1.23 rejects: write them as 0/1.
    make_attribute = helper.make_attribute

    def ints_not_bools(key, value, *args, **kwargs):
        if isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
            value = [int(v) for v in value]
        return make_attribute(key, value, *args, **kwargs)
    helper.make_attribute = ints_not_bools

    Xr, yr = make_regression(n_samples=200, n_features=4, random_state=0)
    Xb, yb = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0,
                                 random_state=0)
    Xm, ym = make_classification(n_samples=300, n_features=4, n_informative=3, n_redundant=0,
                                 n_classes=3, random_state=0)
    Xr, Xb, Xm = (a.astype(np.float32) for a in (Xr, Xb, Xm))
    rng = np.random.default_rng(0)
    Xn = Xb.copy()
    Xn[rng.random(Xn.shape) < 0.15] = np.nan
    models = [
        ("sk_gb_regressor", GradientBoostingRegressor(n_estimators=5, max_depth=3, random_state=0), Xr, yr),
        ("sk_gb_binary", GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0), Xb, yb),
        ("sk_gb_multiclass", GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0), Xm, ym),
        ("sk_rf_binary", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0), Xb, yb),
        ("sk_rf_multiclass", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0), Xm, ym),
        ("sk_rf_regressor", RandomForestRegressor(n_estimators=3, max_depth=3, random_state=0), Xr, yr),
        ("sk_tree_binary", DecisionTreeClassifier(max_depth=3, random_state=0), Xb, yb),
        ("sk_hgb_binary_nan", HistGradientBoostingClassifier(max_iter=4, max_depth=3, random_state=0), Xn, yb),
        ("sk_hgb_regressor_nan", HistGradientBoostingRegressor(max_iter=4, max_depth=3, random_state=0), Xn, yr),
    ]
    for name, model, X, y in models:
        model.fit(X, y)
        for ml in [3, 5]:
            try:
                onx = to_onnx(model, X[:1], target_opset={"": 21, "ai.onnx.ml": ml},
                              options={"zipmap": False} if hasattr(model, "classes_") else None)
            except Exception as e:  # a converter that fails on this version
                print(f"{name} (ai.onnx.ml {ml}): skl2onnx failed: {str(e)[:80]}")
                continue
            trees = [n for n in onx.graph.node if n.op_type.startswith("TreeEnsemble")]
            if ml == 5 and trees[0].op_type != "TreeEnsemble":
                continue
            rows = np.concatenate([X[:20], Xn[:4]])
            case(f"{name}_ml{ml}", trees[0], rows)


def main():
    hand_written()
    random_cases()
    sklearn_cases()
    if len(sys.argv) == 3 and sys.argv[1] == "--print":
        for c in CASES:
            if c["name"] == sys.argv[2]:
                print(json.dumps({"x": c["x"], "y": c["y"]}))
        return
    OUT.write_text(json.dumps({"onnxruntime": ort.__version__, "cases": CASES},
                              separators=(",", ":"), allow_nan=False) + "\n")
    print(f"{len(CASES)} cases written to {OUT}")


if __name__ == "__main__":
    main()
