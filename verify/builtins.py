"""The built-in datasets: JSON files shipped inside the package (verify/data/), so their values never change.

:func:`catalogue` lists them from the files' shapes alone, without numpy (``attnsvm list`` answers at once);
:func:`builtin` parses and validates one.
"""
from __future__ import annotations

import json
from importlib import resources

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
    import numpy as np

    if fam not in _FAMILY_CACHE:
        with resources.as_file(_data_dir() / FAMILIES[fam]["file"]) as path:
            with np.load(str(path), allow_pickle=False) as data:
                _FAMILY_CACHE[fam] = {k: data[k] for k in data.files}
    return _FAMILY_CACHE[fam]


def _npy_header(fh) -> dict:
    """The header dict (descr, fortran_order, shape) of a .npy stream positioned at its start."""
    import ast

    if fh.read(6) != b"\x93NUMPY":
        raise ValueError("not a .npy member")
    major = fh.read(2)[0]
    size = int.from_bytes(fh.read(2 if major == 1 else 4), "little")
    return ast.literal_eval(fh.read(size).decode("latin1"))


def _family_shapes(fam: str) -> dict:
    """{"shape": X's shape, "seeds": (first, last)} of a family, read from the .npz headers without numpy."""
    import zipfile

    with resources.as_file(_data_dir() / FAMILIES[fam]["file"]) as path, zipfile.ZipFile(path) as zf:
        with zf.open("X.npy") as fh:
            shape = tuple(_npy_header(fh)["shape"])
        with zf.open("seeds.npy") as fh:
            head = _npy_header(fh)
            descr, count = head["descr"], head["shape"][0]
            if descr[0] not in "<|" or descr[1] not in "iu" or head["fortran_order"] and len(head["shape"]) > 1:
                raise ValueError(f"unexpected seed array {descr}")
            width = int(descr[2:])
            raw = fh.read(width * count)
    first = int.from_bytes(raw[:width], "little", signed=descr[1] == "i")
    last = int.from_bytes(raw[-width:], "little", signed=descr[1] == "i")
    return {"shape": shape, "seeds": (first, last)}


def catalogue() -> list[dict]:
    """One entry per built-in dataset and family, read from the shipped files without building any Dataset
    (no numpy): name, n, T, d, description, and for a family its seeds. What ``attnsvm list`` prints.

    >>> [e for e in catalogue() if e["name"] == "multi-input"][0]["T"]
    7
    >>> [e["seeds"] for e in catalogue() if e["name"] == "tf-svm-local-<seed>"]
    [(0, 99)]
    """
    out = []
    for name in builtin_names():
        obj = json.loads((_data_dir() / f"{name}.json").read_text(encoding="utf-8"))
        X = obj["X"]
        out.append({"name": name, "n": len(X), "T": len(X[0]), "d": len(X[0][0]),
                    "description": obj.get("description", "")})
    for fam, info in FAMILIES.items():
        meta = _family_shapes(fam)
        _, n, T, d = meta["shape"]
        out.append({"name": f"{fam}-<seed>", "family": fam, "n": n, "T": T, "d": d, "seeds": meta["seeds"],
                    "description": info["description"]})
    return out


def _family_member(name: str):
    """tf-svm-local-17 -> the cross-attention dataset of seed 17 (None when ``name`` names no family)."""
    fam, _, seed = name.rpartition("-")
    if fam not in FAMILIES:
        return None
    arrays = _family_arrays(fam)
    seeds = [int(s) for s in arrays["seeds"]]
    if not seed.isdigit() or int(seed) not in seeds:
        raise DatasetError(f"dataset {name[:60]!r}: the family {fam}-<seed> has seeds {seeds[0]} to {seeds[-1]}")
    k = seeds.index(int(seed))
    from .dataset import Dataset

    extra = {}
    if "V" in arrays:      # relu head with output weights 1
        extra["head"] = {"kind": "relu", "V": arrays["V"][k]}
    if "W0" in arrays:     # the stored initial W
        extra["inits"] = [arrays["W0"][k]]
    v = arrays["v"][k] if "v" in arrays else [1.0] * arrays["X"].shape[-1]
    origin = f"; draw {int(arrays['draw'][k])}" if "draw" in arrays else ""
    ds = Dataset(X=arrays["X"][k], Y=arrays["Y"][k], v=v, Z=arrays["Z"][k], model="cross",
                 parameterization="W", name=f"{fam}-{int(seed)}", gd=dict(FAMILIES[fam].get("gd", {})),
                 description=f"{FAMILIES[fam]['description']}; seed {int(seed)}{origin}", **extra)
    ds.source = f"builtin:{fam}-{int(seed)}"
    return ds


def family_batch(fam: str = "tf-svm-local") -> dict:
    """The whole family as arrays with a leading seed axis (X, Z, v, Y, seeds), for batched runs."""
    return dict(_family_arrays(fam))


def source_file(source: str) -> str | None:
    """The file a dataset's ``source`` was read from: the path itself, or for ``builtin:NAME`` the shipped
    file (the family's .npz for a family member); None when there is none on disk.

    >>> source_file("builtin:multi-input").endswith("multi-input.json")
    True
    """
    import os

    if not isinstance(source, str):
        return None
    if source.startswith("builtin:"):
        name = source[len("builtin:"):]
        fam = name.rpartition("-")[0]
        entry = _data_dir() / (FAMILIES[fam]["file"] if fam in FAMILIES else f"{name}.json")
        path = str(entry)
        return path if os.path.exists(path) else None
    return source if os.path.exists(source) else None


def _suggestion(name) -> str:
    """'; did you mean 'multi-input'?' for the closest built-in name (a family member keeps its seed), or ''.

    >>> _suggestion("multi-inptu"), _suggestion("tf-svm-locl-17"), _suggestion("zzz")
    ("; did you mean 'multi-input'?", "; did you mean 'tf-svm-local-17'?", '')
    """
    import difflib

    if not isinstance(name, str):
        return ""
    stem, _, seed = name.rpartition("-")
    if seed.isdigit() and stem:
        close = difflib.get_close_matches(stem, list(FAMILIES), n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0] + '-' + seed!r}?"
    close = difflib.get_close_matches(name, builtin_names(), n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def builtin(name: str):
    """The built-in dataset called ``name``.

    >>> builtin("single-input-global").summary()
    {'name': 'single-input-global', 'model': 'prompt', 'n': 1, 'T': 3, 'd': 3}
    """
    member = _family_member(name) if isinstance(name, str) else None
    if member is not None:
        return member
    if name not in builtin_names():
        raise DatasetError(f"dataset {name[:60]!r}: not a built-in dataset (see 'attnsvm list') and not a file"
                           f"{_suggestion(name)}")
    from .dataset import Dataset

    with resources.as_file(_data_dir() / f"{name}.json") as path:
        ds = Dataset.from_file(str(path))
    ds.source = f"builtin:{name}"
    return ds


def load(spec):
    """A Dataset from a Dataset, a built-in name, or a path to a .json / .npz file.

    >>> load("multi-input").source
    'builtin:multi-input'
    >>> load("nothing-like-this")
    Traceback (most recent call last):
    ...
    attnsvm.verify.errors.DatasetError: dataset 'nothing-like-this': not a built-in dataset (see 'attnsvm list') and not a file
    """
    import os

    if not isinstance(spec, (str, os.PathLike)):
        from .dataset import Dataset

        if isinstance(spec, Dataset):
            return spec
    spec = os.fspath(spec)
    if spec in builtin_names() and not os.path.exists(spec):
        return builtin(spec)
    if os.path.exists(spec) or spec.lower().endswith((".json", ".npz")):
        from .dataset import Dataset

        return Dataset.from_file(spec)
    return builtin(spec)
