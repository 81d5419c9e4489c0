"""The memory limit (verify.memory, --max-memory): parsing, a check that runs out of memory becomes `inconclusive`,
and the command line never ends in a traceback or a kernel kill under a small limit."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from attnsvm.verify import Dataset, memory
from attnsvm.verify.context import Context
from attnsvm.verify.errors import InputError


def run_cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "attnsvm", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_parse_size():
    assert memory.parse_size("4G") == 4 * 2 ** 30
    assert memory.parse_size("512M") == 512 * 2 ** 20
    assert memory.parse_size("1.5 GiB") == 3 * 2 ** 29
    for bad in ("lots", "4X", "-1G", ""):
        with pytest.raises(InputError, match="--max-memory"):
            memory.parse_size(bad)
    with pytest.raises(InputError, match="too small"):
        memory.parse_size("10M")


def test_default_is_half_the_machine():
    total = memory.machine_memory()
    assert total is None or memory.default_limit() == total // 2


def test_a_check_out_of_memory_is_inconclusive(monkeypatch):
    """MemoryError (numpy) or torch's allocation failure inside a check: that check says inconclusive and names
    the memory; no exception escapes."""
    from attnsvm.verify.checks import MODULES

    ds = Dataset(X=[[[1, 0], [0, 1]]], Y=[1], v=[1, 0])
    for exc in (MemoryError("Unable to allocate 8.00 GiB"),
                RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB")):
        def boom(ctx, exc=exc):
            raise exc
        monkeypatch.setattr(MODULES["p-svm"], "run", boom)
        ctx = Context.create(ds)
        res = ctx.run_check("p-svm")
        assert res.verdict == "inconclusive"
        assert res.summary.startswith("out of memory") and "allocate" in res.summary
        assert "out_of_memory" in res.evidence
    # any other error stays an internal error
    monkeypatch.setattr(MODULES["p-svm"], "run", lambda ctx: 1 / 0)
    assert Context.create(ds).run_check("p-svm").summary.startswith("internal error")


def test_limit_below_the_libraries_is_one_line():
    proc = run_cli("check", "single-input-global", "--only", "optimal-tokens", "--max-memory", "300M")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --max-memory: 300 MB is less than") and proc.stderr.count("\n") == 1


def test_medium_w_dataset_under_a_small_limit_ends_cleanly(tmp_path):
    """Self-attention, n = 100, T = 32, d = 64: its features alone take 105 MB. Under a limit that leaves about 40 MB
    beyond the loaded libraries, the command ends with one line and exit status 2 (or inconclusive checks), never a
    traceback or a kill."""
    rng = np.random.default_rng(0)
    obj = {"name": "w-medium", "model": "self", "query_index": 0, "X": np.round(rng.standard_normal((100, 32, 64)),
                                                                                  4).tolist(),
           "Y": rng.choice([-1, 1], size=100).tolist(), "v": np.round(rng.standard_normal(64), 4).tolist()}
    path = tmp_path / "w.json"
    path.write_text(json.dumps(obj))
    probe = subprocess.run([sys.executable, "-c", "from attnsvm.verify import memory; memory.load_libraries(); "
                            "print(memory.startup_need())"], capture_output=True, text=True, timeout=300)
    need = int(probe.stdout.strip())
    limit = need + 40 * 2 ** 20
    proc = run_cli("check", path, "--only", "optimal-tokens,w-svm", "--max-memory", str(limit))
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1, 2), (proc.returncode, proc.stderr[-2000:])
    if proc.returncode == 2:
        assert proc.stderr.startswith("error: out of the memory limit") and proc.stderr.count("\n") == 1, proc.stderr
    else:
        assert "out of memory" in proc.stdout, proc.stdout


def test_libraries_load_by_need():
    """Under the default limit a small prompt dataset's whole check loads neither torch nor cvxpy (the SVMs are
    solved by NNLS, batched GD runs on numpy): verify.precision_runs.torch_used says so beforehand, and it says torch
    for a self-attention dataset and for a prompt problem too large for the numpy engine. Under an explicit
    --max-memory the libraries are loaded before the limit (cvxpy always, torch only where used)."""
    from attnsvm.numeric.batched import NUMPY_MAX_SIZE
    from attnsvm.verify.builtins import load
    from attnsvm.verify.precision_runs import LARGEST_BATCH, torch_used

    code = ("import sys\n"
            "from attnsvm.verify.cli import main\n"
            "code = main(['check', 'local-from-zero', '--json', sys.argv[1]])\n"
            "print(code, 'torch' in sys.modules, 'cvxpy' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code, os.devnull], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "0 False False", out.stdout[-2000:] + out.stderr[-2000:]
    assert not torch_used(load("local-from-zero"), 64)
    assert torch_used(load("tf-svm-local-0"), 64)
    d = 4
    T = 4
    n = NUMPY_MAX_SIZE // (LARGEST_BATCH * T * d) + 1
    rng = np.random.default_rng(0)
    big = Dataset(X=rng.standard_normal((n, T, d)), Y=np.ones(n), v=np.ones(d))
    assert torch_used(big, 64) and not torch_used(Dataset(X=big.X[:2], Y=np.ones(2), v=np.ones(d)), 64)
    code = ("import sys\n"
            "from attnsvm.verify.cli import main\n"
            "main(['check', 'local-from-zero', '--only', 'optimal-tokens', '--max-memory', '4G'])\n"
            "print('torch' in sys.modules, 'cvxpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "False True", out.stdout[-2000:] + out.stderr[-2000:]
