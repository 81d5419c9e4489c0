"""The built-in datasets: JSON files shipped inside the package (verify/data/), so their values never change."""
from __future__ import annotations

from importlib import resources

import numpy as np

from .dataset import Dataset
from .errors import DatasetError


def _data_dir():
    return resources.files("attnsvm.verify") / "data"


def builtin_names() -> list[str]:
    """Names of the built-in datasets, sorted.

    >>> "multi-input" in builtin_names()
    True
    """
    return sorted(p.name[:-5] for p in _data_dir().iterdir() if p.name.endswith(".json"))


# Families of built-in datasets stored in one .npz file each (arrays with a leading seed axis).
FAMILIES = {
    "tf-svm-local": {
        "file": "tf-svm-local.npz",
        "description": "cross-attention, unit Gaussian tokens/queries/v, random labels (second paper's setting)",
    },
    # tools/make_tf_svm_multitoken.py: relu head f = sum_j ReLU((V^T X^T s)_j), the authors' init W0 and step 0.1,
    # draws kept by the authors' filters (one member per kept draw; ``draw`` holds the draw number)
    "tf-svm-multitoken": {
        "file": "tf-svm-multitoken.npz",
        "description": "cross-attention, relu head sum_j ReLU((V^T X^T s)_j), unit Gaussian tokens/queries, random "
                       "labels, the authors' init and filters (second paper's multi-token experiment)",
        "gd": {"method": "normalized", "step": 0.1},
    },
}


def builtin_families() -> list[dict]:
    """One entry per family: pattern ("tf-svm-local-<seed>"), seeds (first, last), shape, description."""
    out = []
    for fam, info in FAMILIES.items():
        arrays = _family_arrays(fam)
        seeds = arrays["seeds"]
        _, n, T, d = arrays["X"].shape
        out.append({"pattern": f"{fam}-<seed>", "family": fam, "seeds": (int(seeds[0]), int(seeds[-1])),
                    "n": n, "T": T, "d": d, "description": info["description"]})
    return out


_FAMILY_CACHE: dict = {}


def _family_arrays(fam: str) -> dict:
    if fam not in _FAMILY_CACHE:
        with resources.as_file(_data_dir() / FAMILIES[fam]["file"]) as path:
            with np.load(str(path), allow_pickle=False) as data:
                _FAMILY_CACHE[fam] = {k: data[k] for k in data.files}
    return _FAMILY_CACHE[fam]


def _family_member(name: str) -> Dataset | None:
    """tf-svm-local-17 -> the cross-attention dataset of seed 17 (None when ``name`` names no family)."""
    fam, _, seed = name.rpartition("-")
    if fam not in FAMILIES:
        return None
    arrays = _family_arrays(fam)
    seeds = [int(s) for s in arrays["seeds"]]
    if not seed.isdigit() or int(seed) not in seeds:
        raise DatasetError(f"dataset {name[:60]!r}: the family {fam}-<seed> has seeds {seeds[0]} to {seeds[-1]}")
    k = seeds.index(int(seed))
    extra = {}
    if "V" in arrays:      # relu head with output weights 1
        extra["head"] = {"kind": "relu", "V": arrays["V"][k]}
    if "W0" in arrays:     # the stored initial W
        extra["inits"] = [arrays["W0"][k]]
    v = arrays["v"][k] if "v" in arrays else np.ones(arrays["X"].shape[-1])
    origin = f"; draw {int(arrays['draw'][k])}" if "draw" in arrays else ""
    ds = Dataset(X=arrays["X"][k], Y=arrays["Y"][k], v=v, Z=arrays["Z"][k], model="cross",
                 parameterization="W", name=f"{fam}-{int(seed)}", gd=dict(FAMILIES[fam].get("gd", {})),
                 description=f"{FAMILIES[fam]['description']}; seed {int(seed)}{origin}", **extra)
    ds.source = f"builtin:{fam}-{int(seed)}"
    return ds


def family_batch(fam: str = "tf-svm-local") -> dict:
    """The whole family as arrays with a leading seed axis (X, Z, v, Y, seeds), for batched runs."""
    return dict(_family_arrays(fam))


def builtin(name: str) -> Dataset:
    """The built-in dataset called ``name``.

    >>> builtin("single-input-global").summary()
    {'name': 'single-input-global', 'model': 'prompt', 'n': 1, 'T': 3, 'd': 3}
    """
    member = _family_member(name) if isinstance(name, str) else None
    if member is not None:
        return member
    if name not in builtin_names():
        raise DatasetError(f"dataset {name[:60]!r}: not a built-in dataset (see 'attnsvm list') and not a file")
    with resources.as_file(_data_dir() / f"{name}.json") as path:
        ds = Dataset.from_file(str(path))
    ds.source = f"builtin:{name}"
    return ds


def load(spec) -> Dataset:
    """A Dataset from a Dataset, a built-in name, or a path to a .json / .npz file.

    >>> load("multi-input").source
    'builtin:multi-input'
    >>> load("nothing-like-this")
    Traceback (most recent call last):
    ...
    attnsvm.verify.errors.DatasetError: dataset 'nothing-like-this': not a built-in dataset (see 'attnsvm list') and not a file
    """
    import os

    if isinstance(spec, Dataset):
        return spec
    spec = os.fspath(spec)
    if spec in builtin_names() and not os.path.exists(spec):
        return builtin(spec)
    if os.path.exists(spec) or spec.lower().endswith((".json", ".npz")):
        return Dataset.from_file(spec)
    return builtin(spec)
