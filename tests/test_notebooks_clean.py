"""Committed notebooks are thin, parameterised and stripped of outputs."""
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: notebooks that read no data set (03: the models; 09: the authors' released scores ship with the package)
DATA_FREE = ("03_model.ipynb", "09_released_predictions.ipynb")


def test_there_are_numbered_notebooks():
    assert any(nb.name.startswith("09_") for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stripped_and_has_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name} carries outputs: strip them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], f"{path.name}: first code cell must be the only 'parameters' cell"
    data = ("dataset", "data_root") if path.name not in DATA_FREE else ()
    for name in ("profile", *data, "figures"):
        assert f"{name} =" in tagged[0].source, f"{path.name}: parameters cell lacks {name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_parameter_is_used(path):
    """A parameter that no cell reads is dead (changing it would silently do nothing)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = next(c for c in code if "parameters" in c.metadata.get("tags", []))
    assigned = [t.id for n in ast.parse(params.source).body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)]
    used = {n.id for c in code if c is not params for n in ast.walk(ast.parse(c.source))
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    assert [a for a in assigned if a not in used] == [], f"{path.name}: parameters no cell reads"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_understands_every_parameter(path):
    from papermill.translators import PythonTranslator

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [line.split("=")[0].strip() for line in cell.source.splitlines()
                if "=" in line.split("#")[0] and not line.startswith((" ", "import", "from"))]
    parsed = [p.name for p in PythonTranslator.inspect(cell)]
    assert parsed == assigned, f"{path.name}: papermill parses {parsed}, the cell assigns {assigned}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_narrates_and_calls(path):
    """Notebooks hold narrative and library calls: no function or class of their own, no private imports,
    settings from the profile (no threshold factor or matching mode of their own)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        tree = ast.parse(cell.source)
        own = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda))
               and not isinstance(n, ast.Lambda)]
        assert not own, f"{path.name} defines {own}: move it into slswin_lib"
        private = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
                   if a.name.startswith("_")]
        assert not private, f"{path.name} imports private names {private}"
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "settings =" in params.source and "\nt =" not in params.source, \
        f"{path.name}: profile values come through the settings parameter (no t of its own)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_names_the_slswin_kernel_and_says_what_it_needs(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "slswin"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "**Needs:**" in first.source and "**Takes**" in first.source


#: the first cell says what the notebook does and points to the README for running it by hand
FIRST_CELL_MAX_CHARS = 1200


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_short_and_closes_with_what_it_shows(path):
    nb = nbformat.read(path, as_version=4)
    first, last = nb.cells[0], nb.cells[-1]
    assert len(first.source) <= FIRST_CELL_MAX_CHARS, \
        f"{path.name}: first cell of {len(first.source)} characters (at most {FIRST_CELL_MAX_CHARS}); details go below"
    assert "README" in first.source, f"{path.name}: the first cell points to the README for running it by hand"
    assert last.cell_type == "markdown" and last.source.startswith("## What this shows"), \
        f"{path.name} must end with a markdown cell '## What this shows'"
