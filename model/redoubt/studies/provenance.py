"""What a result was made with: package versions and the git revision, for manifests and reports."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path


def git_revision() -> str:
    """The revision of the checkout this package runs from ("unknown" when installed from a wheel: then
    the version says what ran). A checkout counts only if its model/redoubt/ is this package, not some other
    repository that a virtual environment happens to sit in."""
    here = Path(__file__).resolve().parent
    git = lambda *args: subprocess.run(["git", *args], cwd=here, capture_output=True, text=True,  # noqa: E731
                                       timeout=10)
    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() / "model" / "redoubt" != here:
            return "unknown"
        rev = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
        if rev.returncode == 0:
            return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("redoubt-valley", "mesa", "numpy", "pandas", "pyarrow", "matplotlib", "scipy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
