"""Writing a report folder: ``index.html``, ``<safe-name>.html`` / ``<safe-name>.json`` per dataset, and
``timing.json``.

Re-running the same command gives byte-identical files, except ``timing.json``: it holds every wall-clock
time (per dataset, the result's ``timing`` object), and nothing else in the folder holds one (the pages
carry no generation time; the JSON results are ``check --json``'s documents without ``timing``).

The folder keeps a manifest (``.attnsvm-report.json``) of the files this tool wrote there and their
SHA-256. It is written first, as an intent (``"state": "writing"``, every planned file listed), then the
files (each atomically), then the manifest once more (``"complete"``, with the digests), so a run killed
half-way leaves complete files that the next run recognises as its own and overwrites. A re-run removes
the pages of datasets no longer in the report (only when they are unchanged since it wrote them), and never
touches or overwrites any other file: a target name taken by a file it did not write is an error.

>>> safe_names(["<script>alert(1)</script>", "../../etc", "index", "a b", "A-B"])
['script-alert-1-script', 'etc', 'dataset-index', 'a-b', 'A-B-2']
"""
from __future__ import annotations

import hashlib
import json
import os
import re

from attnsvm.verify.files import write_atomically

from .page import provenance, render_dataset_page, render_index

MANIFEST = ".attnsvm-report.json"
MANIFEST_SCHEMA = "attnsvm.report-manifest/2"
_READABLE_SCHEMAS = ("attnsvm.report-manifest/1", MANIFEST_SCHEMA)
TIMING = "timing.json"
RESERVED = {"index", "timing"}


class ReportError(ValueError):
    """A report folder that cannot be written as asked (the message names the path); the CLI turns it
    into an ``InputError`` (one line, exit 2). Example: :func:`check_out_dir`."""


def safe_name(name: str) -> str:
    """A file-name stem for a dataset name: letters, digits, '.', '_' and '-' only, no leading dot,
    at most 60 characters, never a path and never 'index'.

    >>> safe_name("../../etc/passwd"), safe_name("..."), safe_name("multi-input")
    ('etc-passwd', 'dataset', 'multi-input')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name))
    stem = re.sub(r"\.{2,}", ".", stem).strip(".-_")[:60].strip(".-_")
    if not stem:
        return "dataset"
    if stem.lower() in RESERVED:
        return f"dataset-{stem}"
    return stem


def safe_names(names) -> list[str]:
    """:func:`safe_name` for each name, made unique (case-insensitively) with -2, -3, ... suffixes."""
    out, used = [], set()
    for name in names:
        stem = safe_name(name)
        cand, k = stem, 2
        while cand.lower() in used:
            cand, k = f"{stem}-{k}", k + 1
        used.add(cand.lower())
        out.append(cand)
    return out


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def read_manifest(out_dir: str) -> dict:
    """{file name: sha256} of the files a previous run wrote (or meant to write) in ``out_dir`` ({} when
    none); the digest is None for a file an interrupted run planned (it may or may not have been written,
    so it is never removed as stale, only overwritten).

    >>> import tempfile
    >>> read_manifest(tempfile.mkdtemp())
    {}
    """
    path = os.path.join(out_dir, MANIFEST)
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, ValueError):
        return {}
    files = obj.get("files") if isinstance(obj, dict) and obj.get("schema") in _READABLE_SCHEMAS else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and (v is None or isinstance(v, str))
            and os.path.basename(k) == k and not k.startswith(".") and k not in ("", "..")}


def check_out_dir(out_dir: str, stems: list[str]) -> None:
    """Raise ReportError when ``out_dir`` cannot hold the report for these file stems: it is a file,
    or a target name is taken by something this tool did not write there.

    >>> import os, tempfile
    >>> out = tempfile.mkdtemp()
    >>> with open(os.path.join(out, "demo.json"), "w") as fh:
    ...     _ = fh.write("{}")
    >>> check_out_dir(out, ["demo"])
    Traceback (most recent call last):
    ...
    attnsvm.reports.build.ReportError: --out ...: demo.json exists and was not written by attnsvm report; refusing to overwrite it (choose another folder)
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ReportError(f"--out {out_dir}: is a file, not a folder")
    if not os.path.isdir(out_dir):
        return
    ours = read_manifest(out_dir)
    for name in ["index.html", TIMING] + [f"{s}{ext}" for s in stems for ext in (".html", ".json")]:
        path = os.path.join(out_dir, name)
        if os.path.isdir(path) or os.path.islink(path):
            raise ReportError(f"--out {out_dir}: {name} exists and is not a regular file")
        if os.path.exists(path) and name not in ours:
            raise ReportError(f"--out {out_dir}: {name} exists and was not written by attnsvm report; "
                              "refusing to overwrite it (choose another folder)")


def _write_atomic(path: str, text: str) -> str:
    """Write one report file atomically; its SHA-256 (for the manifest)."""
    try:
        data = write_atomically(path, text)
    except OSError as exc:
        raise ReportError(f"{path}: cannot write: {exc.strerror}") from None
    return hashlib.sha256(data).hexdigest()


def _write_manifest(out_dir: str, files: dict, state: str) -> None:
    _write_atomic(os.path.join(out_dir, MANIFEST),
                  json.dumps({"schema": MANIFEST_SCHEMA, "state": state, "files": files}, indent=1) + "\n")


def result_document(result) -> tuple[str, dict]:
    """(the JSON text of ``result`` without its ``timing`` object, that object): the first is a
    deterministic function of the input and options, the second holds the wall-clock times."""
    doc = result.to_dict()
    timing = doc.pop("timing", {})
    return json.dumps(doc, indent=1) + "\n", timing


def render_page(result, dataset, stem: str, command: str | None = None) -> str:
    """The page of one dataset exactly as :func:`write_report` writes it as ``<stem>.html`` (so that it can
    be rendered where the dataset was checked, in parallel, and handed to ``write_report(pages=...)``)."""
    return render_dataset_page(result, dataset, json_file=f"{stem}.json", prov=provenance([result], command=command))


class PageRenderer:
    """A picklable ``then`` for ``verify.check_many``: renders each dataset's page in the worker that checked
    it; ``stems[k - 1]`` is the file stem of the k-th dataset."""

    def __init__(self, stems: list, command: str | None = None):
        self.stems, self.command = list(stems), command

    def __call__(self, k: int, result, dataset) -> str:
        return render_page(result, dataset, self.stems[k - 1], self.command)


def write_report(entries, out_dir: str, *, command: str | None = None, pages: list | None = None) -> list[str]:
    """Write the report of ``entries`` (pairs ``(result, dataset)``; dataset may be None) into
    ``out_dir`` (created if missing) and return the paths written, index first. ``pages``: the HTML of each
    entry's page when already rendered (by :class:`PageRenderer`, with the same stems and command).

    >>> import tempfile, os
    >>> from attnsvm.verify import builtin, check
    >>> ds = builtin("single-input-global")
    >>> out = tempfile.mkdtemp()
    >>> paths = write_report([(check(ds, only=["optimal-tokens"]), ds)], out)
    >>> sorted(os.listdir(out))
    ['.attnsvm-report.json', 'index.html', 'single-input-global.html', 'single-input-global.json', 'timing.json']
    """
    entries = list(entries)
    stems = safe_names(r.dataset.get("name", "unnamed") for r, _ in entries)
    check_out_dir(out_dir, stems)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"--out {out_dir}: cannot create the folder: {exc.strerror}") from None
    old = read_manifest(out_dir)
    planned = [name for stem in stems for name in (f"{stem}.json", f"{stem}.html")] + ["index.html", TIMING]
    # the intent first: every file this run may write is ours from now on, whatever happens next
    _write_manifest(out_dir, {**old, **{name: None for name in planned}}, "writing")
    prov = provenance([r for r, _ in entries], command=command)
    written: dict = {}
    paths = []
    index_entries = []
    timings = {}
    for k, ((result, dataset), stem) in enumerate(zip(entries, stems)):
        page, js = f"{stem}.html", f"{stem}.json"
        text, timings[stem] = result_document(result)
        written[js] = _write_atomic(os.path.join(out_dir, js), text)
        html = pages[k] if pages is not None else render_page(result, dataset, stem, command)
        written[page] = _write_atomic(os.path.join(out_dir, page), html)
        paths += [os.path.join(out_dir, page), os.path.join(out_dir, js)]
        index_entries.append({"result": result, "dataset": dataset, "page": page, "json": js})
    written["index.html"] = _write_atomic(os.path.join(out_dir, "index.html"), render_index(index_entries, prov=prov))
    _write_atomic(os.path.join(out_dir, TIMING), json.dumps(
        {"schema": "attnsvm.report-timing/1", "note": "wall-clock seconds; the only file of this folder that "
         "differs between re-runs", "datasets": timings}, indent=1) + "\n")
    written[TIMING] = None  # ours, rewritten by every run, never compared
    paths.append(os.path.join(out_dir, TIMING))
    # forget (and remove, when unchanged) the files of the previous run that this run did not rewrite
    for name, digest in old.items():
        path = os.path.join(out_dir, name)
        if name not in written and digest is not None and os.path.isfile(path) and not os.path.islink(path) \
                and _sha256(path) == digest:
            os.unlink(path)
    _write_manifest(out_dir, written, "complete")
    return [os.path.join(out_dir, "index.html")] + paths
