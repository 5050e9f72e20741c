"""The package's import graph: no module reaches into another module's private names, no cycles
among the data modules, and importing the models registers them with timm."""
import ast
from pathlib import Path

import slswin_lib

PACKAGE = Path(slswin_lib.__file__).parent


def _imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                yield path, node


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path, node in _imports():
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {alias.name} from "
                                 f"{'.' * node.level}{node.module or ''}")
    assert offenders == []


def test_data_modules_import_no_cycle():
    graph = {}
    for path, node in _imports():
        if path.parent.name == "data" and node.level == 1 and node.module:
            graph.setdefault(path.stem, set()).add(node.module)
    for a, targets in graph.items():
        for b in targets:
            assert a not in graph.get(b, set()), f"data.{a} and data.{b} import each other"


def test_importing_the_models_registers_them_with_timm():
    import timm

    import slswin_lib.models  # noqa: F401

    model = timm.create_model("sl_swin_tiny_patch6_window7_42", num_classes=1)
    assert "sl_swin_tiny_patch6_window7_42" in timm.list_models("sl_swin*")
    assert sum(p.numel() for p in model.parameters()) > 20_000_000
