"""Same scenario and seed: bit-identical. Different seeds: different. Agent resolution: same answer."""

import os
import platform
import subprocess
import sys

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


STATE_AFTER_40_DAYS = """
import hashlib
from redoubt import ValleyModel
m = ValleyModel(rng=4)
for _ in range(40):
    m.step()
print(hashlib.sha256(m.defenders.morale.tobytes() + m.attackers.morale.tobytes()).hexdigest())
"""


@pytest.mark.subprocess
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS's x86 kernels are chosen here")
def test_a_run_is_the_same_whatever_blas_kernel_numpy_finds():
    """Bit-identical on any machine of a cluster: numpy's OpenBLAS picks a kernel for the CPU it finds, and the
    kernels add in different orders. OPENBLAS_CORETYPE=Prescott makes it pick the oldest x86-64 one here; every
    fighter's morale after 40 days (full precision, before it reaches any output) is the same. Computed with
    numpy's matrix product, as the contagion's sums were until 2026-11-28, it differed in the last bits."""
    states = {coretype: subprocess.run([sys.executable, "-c", STATE_AFTER_40_DAYS], capture_output=True, text=True,
                                       check=True, env={**os.environ, "OPENBLAS_CORETYPE": coretype}).stdout
              for coretype in ("", "Prescott")}
    assert states[""] == states["Prescott"] and len(states[""]) == 65, states


OUTPUTS_OF_THREE_RUNS = """
import hashlib, json
from redoubt import ValleyModel
h = hashlib.sha256()
for kw in ({"rng": 5, "variant": "air+passes"}, {"rng": 6, "fighters_per_agent": 1},
           {"scenario_file": "swat-2009", "rng": 21}):
    m = ValleyModel(**kw)
    h.update(json.dumps(m.run(), sort_keys=True, default=repr).encode())
    h.update(m.daily().to_csv(index=False, float_format="%.17g").encode())
    h.update(json.dumps([list(e) for e in m.events]).encode())
print(h.hexdigest())
"""


@pytest.mark.subprocess
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS's x86 kernels are chosen here")
def test_outputs_are_the_same_on_the_paths_an_older_cpu_takes():
    """What numpy, OpenBLAS and the C library would run on an x86-64 machine without AVX2, FMA or AVX-512:
    numpy's dispatched SIMD loops off (here numpy's exp on them differs from its plain loop in the last bit for
    about 5% of float64 values), OpenBLAS's oldest kernel, and glibc's variants of exp and log for those
    features off (their results differ too). Outcome, daily series at full precision and events of three runs
    (one at 1 fighter per agent, one on Swat) are the same. (numba compiles for this CPU without fast-math, so
    its arithmetic is IEEE's on any; its exp and log are the C library's.)"""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__ as dispatched
    except ImportError:
        pytest.skip("this numpy does not list its dispatched CPU targets")
    older = {"NPY_DISABLE_CPU_FEATURES": " ".join(dispatched), "OPENBLAS_CORETYPE": "Prescott",
             "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2_Usable,-FMA_Usable,-AVX2,-FMA,-AVX512F"}
    hashes = [subprocess.run([sys.executable, "-c", OUTPUTS_OF_THREE_RUNS], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout for env in ({}, older)]
    assert hashes[0] == hashes[1] and len(hashes[0]) == 65, hashes
