"""`pip install` of the wheel works anywhere: the bundled scenarios and sweep files ship inside the package,
outputs go under ./runs of the current directory, nothing is looked for next to the source tree.

The wheel is built from a copy of the source and installed (without dependencies) into a fresh venv whose
dependencies come from this test environment's site-packages by a .pth line (no network; the editable
install of this checkout is not visible there: a .pth does not process the .pth files of the directory
it adds). REDOUBT_FULL_INSTALL=1 installs the dependencies from the registry instead, pinned by the lock.
"""

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ["pyproject.toml", "README.md", "model", "scenarios"]  # what the build needs


def sh(*cmd, cwd, **kw):
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=900, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCE:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir()
                                        else {}))
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", tmp / "dist",
       src, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("redoubt_valley-*.whl")
    venv = tmp / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    py = venv / "bin" / "python"
    if os.environ.get("REDOUBT_FULL_INSTALL"):
        sh(sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "-c", ROOT / "requirements.lock",
           wheel, cwd=tmp)
    else:
        sh(sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps", wheel, cwd=tmp)
        purelib = sh(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip()
        Path(purelib, "_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    empty = tmp / "empty"
    empty.mkdir()
    return wheel, venv, empty


@pytest.mark.slow
@pytest.mark.subprocess
def test_wheel_holds_the_scenarios(installed):
    import zipfile

    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("redoubt/scenarios/panjshir-2021.toml", "redoubt/scenarios/sweeps/tiny.toml",
              "redoubt/scenarios/validation/square-law.toml", "redoubt/interfaces/cli.py", "redoubt/__main__.py",
              "redoubt/core/model.py", "redoubt/inputs/scenario.py", "redoubt/studies/sweep.py",
              "redoubt/scenarios/history/panjshir-1982.toml", "redoubt/scenarios/history/observed.toml",
              "redoubt/scenarios/history/hindcast.csv"):
        assert f in names, f
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"redoubt"}, tops  # no top-level `model` (or anything else) beside it


@pytest.mark.slow
@pytest.mark.subprocess
def test_installed_redoubt_runs_from_an_empty_directory(installed):
    _, venv, empty = installed
    bin_ = venv / "bin"
    where = sh(bin_ / "python", "-c", "import redoubt; print(redoubt.__file__)", cwd=empty)
    assert where.startswith(str(venv)), where  # the installed package, not this checkout
    # a user's own model.py beside their work (Mesa's layout) does not shadow redoubt, nor redoubt it
    (empty / "model.py").write_text("MINE = True\n")
    mine = sh(bin_ / "python", "-c", "import model, redoubt; from redoubt import ValleyModel; print(model.MINE)",
              cwd=empty)
    assert mine.strip() == "True"
    assert "usage: redoubt" in sh(bin_ / "python", "-m", "redoubt", "--help", cwd=empty)
    (empty / "model.py").unlink()

    sh(bin_ / "redoubt", "run", "panjshir-2021", "--out", "one", cwd=empty)
    assert (empty / "one" / "outcome.json").exists()
    sh(bin_ / "redoubt", "run", "panjshir-2021", "--variant", "air", "--set", "horizon_days=30", cwd=empty)
    sh(bin_ / "redoubt", "sweep", "tiny", "--jobs", "2", "--quiet", cwd=empty)
    sh(bin_ / "redoubt", "run", "history/panjshir-1982", "--set", "horizon_days=10", "--out", "h", cwd=empty)  # extends
    runs = sorted(p.name for p in (empty / "runs").iterdir())
    assert "tiny" in runs and any(r.startswith("panjshir-2021-air-seed0-") for r in runs), runs
    assert (empty / "runs" / "tiny" / "manifest.json").exists()

    outcome = sh(bin_ / "python", "-c", "from redoubt import ValleyModel; print(ValleyModel().run()['end_reason'])",
                 cwd=empty)
    assert outcome.strip() in ("fell", "winter", "repulsed", "horizon")
    listed = sh(bin_ / "redoubt", "list", cwd=empty)
    assert "panjshir-2021" in listed and str(venv) in listed
    assert sh(bin_ / "redoubt", "--version", cwd=empty).startswith("redoubt 0.")
    assert not list(venv.rglob("runs"))  # nothing written inside the installed package
