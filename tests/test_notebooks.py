"""Every notebook runs top to bottom (tiny sizes: REDOUBT_NB_SMALL=1), from a fresh directory, and is kept
in git with cell ids and no outputs."""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_four_questions_are_there():
    assert [p.stem for p in NOTEBOOKS] == ["01-quickstart", "02-resupply-window", "03-what-matters",
                                           "04-validation"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)  # cell ids included (nbformat 4.5)
    for cell in nb.cells:
        assert cell.get("id"), f"{path.name}: a cell without an id"
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs saved in git"
        assert "!" not in cell.source.split("\n", 1)[0][:1], f"{path.name}: a shell command"


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("REDOUBT_NB_SMALL", "1")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('small:', SMALL)"))  # the kernel ran at the tiny sizes
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
    assert nb.cells[-1].outputs[0]["text"] == "small: True\n"
