"""Same scenario and seed: bit-identical. Different seeds: different. Agent resolution: same answer."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from redoubt.core.model import ValleyModel


def run(seed, **kw):
    m = ValleyModel(rng=seed, **kw)
    return m.run(), m.daily()


def test_same_seed_bit_identical():
    (o1, d1), (o2, d2) = run(7, variant="air+passes"), run(7, variant="air+passes")
    assert o1 == o2
    pd.testing.assert_frame_equal(d1, d2, check_exact=True)


def test_different_seeds_differ():
    series = [run(s)[1] for s in (1, 2, 3)]
    assert not series[0].equals(series[1]) and not series[1].equals(series[2])


def test_seed_as_generator_reproducible():
    a = ValleyModel(rng=np.random.default_rng(5)).run()
    b = ValleyModel(rng=np.random.default_rng(5)).run()
    assert a == b


# Fighters per agent: tests/test_behaviour.py (200 runs at each resolution).


# A run on this CPU's paths and on an older one's: every fighter's morale after 40 days (full precision, before it
# reaches any output), then the fingerprint's hash (outcome, daily series at full precision, events) of three runs
ON_THESE_PATHS = f"""
import hashlib, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent / "scripts")!r})
from fingerprint import case_hash
from redoubt import ValleyModel
m = ValleyModel(rng=4)
for _ in range(40):
    m.step()
print(hashlib.sha256(m.defenders.morale.tobytes() + m.attackers.morale.tobytes()).hexdigest())
for kw in ({{"rng": 5, "variant": "air+passes"}}, {{"rng": 6, "fighters_per_agent": 1}},
           {{"scenario_file": "swat-2009", "rng": 21}}):
    print(case_hash(kw)[0])
"""


@pytest.mark.subprocess
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64's kernels and paths are varied here")
def test_a_run_is_the_same_on_the_paths_an_older_cpu_takes():
    """Bit-identical on any machine of a cluster. What numpy, OpenBLAS and the C library would run on an x86-64
    machine without AVX2, FMA or AVX-512: numpy's dispatched SIMD loops off (here numpy's exp on them differs
    from its plain loop in the last bit for about 5% of float64 values), OpenBLAS's oldest kernel (its kernels
    add a matrix product in different orders), and glibc's variants of exp and log for those features off
    (their results differ too). Every fighter's morale after 40 days, and the outputs of three runs (one at 1
    fighter per agent, one on Swat), are the same. With the contagion's sums as numpy's matrix product, as they
    were until 2026-11-28, the morale differed in the last bits. (numba compiles for this CPU without
    fast-math, so its arithmetic is IEEE's on any; its exp and log are the C library's.)"""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__ as dispatched
    except ImportError:
        pytest.skip("this numpy does not list its dispatched CPU targets")
    older = {"NPY_DISABLE_CPU_FEATURES": " ".join(dispatched), "OPENBLAS_CORETYPE": "Prescott",
             "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA,-AVX512F"}
    here, there = (subprocess.run([sys.executable, "-c", ON_THESE_PATHS], capture_output=True, text=True,
                                  check=True, env={**os.environ, **env}).stdout.split() for env in ({}, older))
    assert len(here) == 4 and all(len(h) == 64 for h in here), here
    assert here[0] == there[0], "every fighter's morale after 40 days"
    assert here[1:] == there[1:], "the outputs of three runs"
