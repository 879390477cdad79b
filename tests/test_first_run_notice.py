"""A fresh install's first run compiles the kernels (~30 s): the model says so, once a process, and only then."""

import os
import subprocess
import sys

from redoubt import ValleyModel
from redoubt.core import fused


def test_the_kernels_in_this_checkouts_cache_are_seen():
    ValleyModel(rng=0).step()  # loads (or compiles) the kernels a day uses
    assert fused.in_cache()


def test_an_empty_cache_is_seen(tmp_path):
    """Another cache directory holds nothing: a fresh install as numba sees it (importing compiles nothing)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", "from redoubt.core import fused; print(fused.in_cache())"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_notice_comes_once_and_only_for_an_empty_cache(monkeypatch, capsys):
    monkeypatch.setattr(fused, "_TOLD", False)
    monkeypatch.setattr(fused, "in_cache", lambda: True)
    ValleyModel(rng=1)
    assert capsys.readouterr().err == ""

    monkeypatch.setattr(fused, "_TOLD", False)
    monkeypatch.setattr(fused, "in_cache", lambda: False)
    ValleyModel(rng=1)
    ValleyModel(rng=2)
    err = capsys.readouterr().err
    assert err.count("compiling the model's kernels") == 1, err
