"""No module imports from a layer above its own: the layer order of ``docs/architecture.md``
("Layers"), checked on the source of every module under ``actclr/``, ``pipelines/`` and ``cli/``
(parsed with ``ast``; nothing is imported). Imports inside functions and under ``TYPE_CHECKING``
count like any other."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Source folder -> the package it is installed as (``setup.py``).
PACKAGES = {"actclr": "actclr", "pipelines": "actclr.pipelines", "cli": "actclr.cli"}
#: A layer line of docs/architecture.md: ``3. `actclr.store` `...`: what it holds``.
LAYER_LINE = re.compile(r"^(\d+)\. ((?:`[\w.]+`[ ,]*)+):")


def stated_layers() -> list:
    """The layers of docs/architecture.md, lowest first: a list of module-name tuples."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    layers = []
    for line in section.splitlines():
        match = LAYER_LINE.match(line)
        if match:
            assert int(match.group(1)) == len(layers) + 1, f"layer numbers out of order at: {line}"
            layers.append(tuple(re.findall(r"`([\w.]+)`", match.group(2))))
    return layers


def module_name(path: Path) -> str:
    """The installed dotted name of a source file (``pipelines/ntu.py`` -> ``actclr.pipelines.ntu``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path, name: str) -> list:
    """``(line, module)`` of every project import in a file (absolute and relative)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module))
    return [(line, module) for line, module in out if module == "actclr" or module.startswith("actclr.")]


def layer_of(module: str, layers: list) -> int | None:
    """Index of the layer whose entry is the longest prefix of ``module`` (``actclr`` itself only
    matches the package's own ``__init__``)."""
    best, length = None, -1
    for index, entries in enumerate(layers):
        for entry in entries:
            matches = module == entry or (entry != "actclr" and module.startswith(entry + "."))
            if matches and len(entry) > length:
                best, length = index, len(entry)
    return best


def sources() -> list:
    return sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))


def test_the_stated_layers_name_every_package_once():
    layers = stated_layers()
    entries = [entry for layer in layers for entry in layer]
    assert len(layers) >= 10 and len(entries) == len(set(entries))
    unplaced = sorted({module_name(p) for p in sources() if layer_of(module_name(p), layers) is None})
    assert not unplaced, f"modules in no layer of docs/architecture.md: {unplaced}"


def test_no_module_imports_from_a_layer_above_its_own():
    layers = stated_layers()
    upward = []
    for path in sources():
        name = module_name(path)
        own = layer_of(name, layers)
        for line, module in imported(path, name):
            target = layer_of(module, layers)
            if target is None or own is None or target > own:
                where = "no layer" if target is None else f"layer {target + 1}"
                upward.append(f"{path.relative_to(ROOT)}:{line}: {name} (layer {own + 1 if own is not None else '?'}) "
                              f"imports {module} ({where})")
    assert not upward, "imports against the layer order of docs/architecture.md:\n" + "\n".join(upward)


@pytest.mark.parametrize("source, expected", [
    ("from actclr.eval.knn import knn_predict\n", ["actclr.eval.knn"]),
    ("def f():\n    import actclr.eval.outputs as o\n", ["actclr.eval.outputs"]),
    ("from . import trainer\nfrom ..store import open_dataset\nimport numpy\n", ["actclr.engine", "actclr.store"]),
])
def test_imports_are_read_from_the_source(tmp_path, source, expected):
    path = tmp_path / "monitor.py"
    path.write_text(source)
    assert [m for _, m in imported(path, "actclr.engine.monitor")] == expected


def test_an_upward_import_is_found():
    """The check can fail: engine importing eval (what issue 13 removed) is above engine."""
    layers = stated_layers()
    assert layer_of("actclr.eval.monitor", layers) > layer_of("actclr.engine.trainer", layers)
    assert layer_of("actclr", layers) == 0 and layer_of("actclr.cli.train.linear", layers) == len(layers) - 1
