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
