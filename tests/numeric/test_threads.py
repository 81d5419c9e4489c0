"""Tests of numeric.threads."""
import pytest
import torch

from attnsvm.numeric.threads import torch_threads


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with torch_threads(1):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before


def _python(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_pending_thread_count_applies_when_an_engine_loads_torch_and_is_restored():
    code = (
        "import sys\n"
        "from attnsvm.numeric.threads import torch_threads, torch_loaded\n"
        "assert 'torch' not in sys.modules\n"
        "with torch_threads(1):\n"
        "    import torch\n"
        "    before = torch.get_num_threads()\n"
        "    torch_loaded(torch)\n"
        "    inside = torch.get_num_threads()\n"
        "print(inside, torch.get_num_threads() == before)\n")
    assert _python(code) == "1 True"


def test_small_prompt_problems_never_load_torch():
    code = ("import sys\n"
            "import numpy as np\n"
            "from attnsvm.numeric import decide_runs, torch_threads\n"
            "rng = np.random.default_rng(0)\n"
            "phi, gamma = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4))\n"
            "with torch_threads(1):\n"
            "    runs = decide_runs(rng.standard_normal((8, 2)), phi, gamma, 'logistic', lambda b, s: None,\n"
            "                       budgets=(50,))\n"
            "print(len(runs.judgements), 'torch' in sys.modules)\n")
    assert _python(code) == "8 False"
