"""The example notebook executes top to bottom, in this interpreter, without a cell error.

The notebook is run with nbclient on a ``python3`` kernel whose spec is written for
``sys.executable`` into a temporary Jupyter path, so that it imports the ``stability`` under
test whatever other kernels the machine has. The executed copy goes to a temporary folder;
the notebook itself writes its results to a temporary folder of its own, so nothing in the
repository changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "analysis.ipynb"
TIME_LIMIT = 240  # seconds per cell; the whole notebook takes ~15 s with compiled kernels


@pytest.fixture
def kernel_for_this_python(tmp_path, monkeypatch):
    """A ``python3`` kernelspec that runs ``sys.executable``, first on JUPYTER_PATH."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager

    install(prefix=str(tmp_path / "jupyter"), kernel_name="python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert Path(spec.argv[0]) == Path(sys.executable), spec.argv
    return "python3"


def test_notebook_is_clean_and_valid():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), \
        "commit the notebook with its outputs cleared"
    text = "\n".join(c.source for c in code)
    for call in ("stability.run(", "stability.open_results(", "plot_results(",
                 "stability.contrast(", "stability.load_scenario(", "stability.simulate("):
        assert call in text, call


def test_notebook_executes(kernel_for_this_python, tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=kernel_for_this_python, timeout=TIME_LIMIT,
        # The kernel starts in examples/, as it would in Jupyter; the notebook finds
        # configs/historical.toml from there and writes only to its own temporary folder.
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    try:
        client.execute()  # raises CellExecutionError at the first failing cell
    finally:
        nbformat.write(nb, tmp_path / "executed.ipynb")  # for a look after a failure

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "plot_results, the contrast and the historical plot"
    text = "".join(o.get("text", "") for o in outputs)
    assert "6 cells (3 polarity x 2 doctrine)" in text
    assert "14 cells (7 scenario x 2 doctrine)" in text
