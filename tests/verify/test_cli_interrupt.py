"""Stopping ``attnsvm report`` and ``attnsvm check``: Ctrl-C and SIGTERM stop the command and its workers at
once, SIGKILL of the parent leaves no worker behind, and an interrupted report leaves nothing that a later run
trusts wrongly (the next run into the same folder just works)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from attnsvm.reports import build
from attnsvm.verify import CheckResult, Result

DATASETS = ["multi-input", "single-input-global"]   # both take many seconds: the signal comes mid-check


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _environ(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def start_report(tmp_path, jobs=2):
    marker = f"attnsvm-test-{os.getpid()}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["ATTNSVM_TEST_MARKER"] = marker
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "attnsvm", "report", *DATASETS, "--out", str(out),
                             "--jobs", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=tmp_path, env=env)
    return proc, marker, out


def marked_workers(marker: str) -> list:
    return [int(n) for n in os.listdir("/proc")
            if n.isdigit() and "spawn_main" in _cmdline(int(n)) and marker in _environ(int(n))]


def wait_for(predicate, timeout: float, interval: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def assert_folder_is_clean(out):
    """Whatever is in the folder is listed in the manifest (as planned or written), and no temporary file."""
    if not out.exists():
        return
    names = set(os.listdir(out))
    assert not [n for n in names if n.endswith(".tmp")], names
    if names - {build.MANIFEST}:
        listed = build.read_manifest(str(out))
        assert names - {build.MANIFEST} <= set(listed), (names, listed)


def test_report_stops_at_once_with_its_workers_on_ctrl_c(tmp_path):
    proc, marker, out = start_report(tmp_path)
    try:
        workers = wait_for(lambda: len(marked_workers(marker)) == 2 and marked_workers(marker), timeout=120)
        assert workers and len(workers) == 2, "the workers did not start"
        time.sleep(1.0)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C on a terminal signals the whole process group
        code = proc.wait(timeout=30)
        stopped = time.monotonic() - sent
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 130 and err == "error: interrupted\n", (code, err)
    assert stopped < 5, f"took {stopped:.1f} s to stop"
    assert wait_for(lambda: not marked_workers(marker), timeout=5), "workers left behind"
    assert_folder_is_clean(out)


def test_workers_exit_when_the_parent_is_killed(tmp_path):
    proc, marker, out = start_report(tmp_path)
    try:
        workers = wait_for(lambda: len(marked_workers(marker)) == 2 and marked_workers(marker), timeout=120)
        assert workers and len(workers) == 2, "the workers did not start"
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
        gone = wait_for(lambda: not marked_workers(marker), timeout=10)
        took = time.monotonic() - killed
    finally:
        for pid in marked_workers(marker):
            os.kill(pid, signal.SIGKILL)
    assert gone, "workers outlived their parent by 10 s"
    assert took < 5, f"workers took {took:.1f} s to notice"
    assert_folder_is_clean(out)


@pytest.mark.parametrize("sig, status, message", [(signal.SIGINT, 130, "error: interrupted\n"),
                                                   (signal.SIGTERM, 143, "error: terminated (SIGTERM)\n")])
def test_check_stops_on_a_signal(tmp_path, monkeypatch, capsys, sig, status, message):
    from attnsvm.verify import api
    from attnsvm.verify.cli import main

    started = []

    def endless_check(dataset, only=None, progress=None, **options):
        started.append(time.monotonic())
        threading.Timer(0.3, lambda: os.kill(os.getpid(), sig)).start()
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(api, "check", endless_check)
    code = main(["check", "single-input-global", "--json", str(tmp_path / "r.json")])
    stopped = time.monotonic() - started[0]
    assert code == status and capsys.readouterr().err == message
    assert 0.3 <= stopped < 1.5
    assert os.listdir(tmp_path) == []   # no result, no temporary file


def _entries():
    r1 = Result(dataset={"name": "one", "n": 1, "T": 2, "d": 2}, checks=[CheckResult("optimal-tokens", "holds", "ok")])
    r2 = Result(dataset={"name": "two", "n": 1, "T": 2, "d": 2}, checks=[CheckResult("optimal-tokens", "holds", "ok")])
    return [(r1, None), (r2, None)]


@pytest.mark.parametrize("stop_after", [0, 3])
def test_interrupted_report_is_overwritten_by_the_next_run(tmp_path, monkeypatch, stop_after):
    """A run killed after ``stop_after`` files (SIGKILL: no clean-up at all, simulated in a child process)
    leaves complete files that the next run into the same folder recognises as its own."""
    out = tmp_path / "out"
    script = f"""
import os, sys
from attnsvm.reports import build
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_cli_interrupt import _entries
count = [0]
real = build._write_atomic
def dying(path, text):
    if not path.endswith(build.MANIFEST):
        if count[0] == {stop_after}:
            os._exit(9)
        count[0] += 1
    return real(path, text)
build._write_atomic = dying
build.write_report(_entries(), {str(out)!r})
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 9, proc.stderr
    manifest = json.loads((out / build.MANIFEST).read_text())
    assert manifest["state"] == "writing"
    assert_folder_is_clean(out)
    build.write_report(_entries(), str(out))   # the next run: no refusal
    names = sorted(os.listdir(out))
    assert names == sorted([build.MANIFEST, "index.html", "one.html", "one.json", "two.html", "two.json",
                            build.TIMING])
    assert json.loads((out / build.MANIFEST).read_text())["state"] == "complete"


def test_foreign_file_is_still_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "one.html").write_text("mine")
    with pytest.raises(build.ReportError, match="not written by attnsvm report"):
        build.write_report(_entries(), str(out))
    assert (out / "one.html").read_text() == "mine"


def test_ctrl_c_interrupts_even_when_the_caller_ignored_sigint(monkeypatch, capsys):
    """A caller (a library, a parent process) may leave SIGINT ignored; the command still ends on Ctrl-C with
    "error: interrupted" and exit status 130, and the caller's disposition is restored afterwards."""
    from attnsvm.verify import api
    from attnsvm.verify.cli import main

    def endless_check(dataset, only=None, progress=None, **options):
        threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.01)
        raise AssertionError("SIGINT was not delivered as KeyboardInterrupt")

    monkeypatch.setattr(api, "check", endless_check)
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = main(["check", "single-input-global"])
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert code == 130 and capsys.readouterr().err == "error: interrupted\n"
