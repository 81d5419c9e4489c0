"""The built-in datasets: JSON files shipped inside the package (verify/data/), so their values never change."""
from __future__ import annotations

from importlib import resources

from .dataset import Dataset
from .errors import DatasetError


def _data_dir():
    return resources.files("verify") / "data"


def builtin_names() -> list[str]:
    """Names of the built-in datasets, sorted.

    >>> "multi-input" in builtin_names()
    True
    """
    return sorted(p.name[:-5] for p in _data_dir().iterdir() if p.name.endswith(".json"))


def builtin(name: str) -> Dataset:
    """The built-in dataset called ``name``.

    >>> builtin("single-input-global").summary()
    {'name': 'single-input-global', 'model': 'prompt', 'n': 1, 'T': 3, 'd': 3}
    """
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
    verify.errors.DatasetError: dataset 'nothing-like-this': not a built-in dataset (see 'attnsvm list') and not a file
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
