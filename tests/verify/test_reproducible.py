"""``attnsvm check`` gives byte-identical JSON on a re-run, in a fresh process (another hash seed), with every
wall-clock time kept apart under the one key ``timing`` (the document's last key)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

# the command line, with the fixed-step and cross-check budgets made small (the CLI has no option for them)
RUN = """
import sys
from attnsvm.verify import api
from attnsvm.verify.cli import main
real = api.check
def small(dataset, only=None, **options):
    options.update(fixed_iterations=300, cross_check_iterations=300)
    return real(dataset, only=only, **options)
api.check = small
sys.exit(main(sys.argv[1:]))
"""


def test_check_json_is_byte_identical_on_a_rerun(tmp_path):
    outs, procs = [], []
    for seed in ("1", "2"):   # two processes at once, with different hash seeds
        out = tmp_path / f"run-{seed}.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONHASHSEED"] = seed
        procs.append(subprocess.Popen([sys.executable, "-c", RUN, "check", "single-input-global", "--max-iterations",
                                       "300", "--json", str(out)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        outs.append(out)
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode in (0, 1) and err == "", err
    a, b = (o.read_bytes() for o in outs)
    head_a, sep, _ = a.rpartition(b',\n "timing": ')
    head_b, _, _ = b.rpartition(b',\n "timing": ')
    assert sep, "timing is not the document's last key"
    assert head_a == head_b                          # everything but the wall-clock times, byte for byte
    doc = json.loads(a)
    assert list(doc)[-1] == "timing" and doc["timing"]["total"] > 0
    # no wall-clock time anywhere else in the document
    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield k
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)
    rest = {k: v for k, v in doc.items() if k != "timing"}
    assert not [k for k in keys(rest) if k == "seconds" or str(k).startswith("seconds_")]
