"""The pipeline's promise, checked on the code itself: every stage's deps are exactly what it runs, and no import cycles.

For each stage of ``dvc.yaml`` the project modules its script imports are
followed with ``ast`` (imports inside functions count; a package import runs
its ``__init__.py``; names a package ``__init__`` exports lazily, PEP 562, are
not imports). The ``.py`` deps of the stage must be exactly that closure, and
every input path named in its ``cmd`` must be a dep. No TensorFlow needed.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "digitgen"
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of project module ``name`` (``digitgen.a.b``), or None if it is not one."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    path = ROOT.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_modules(path: Path) -> set[str]:
    """Project modules an import statement in ``path`` names (with their parent packages), anywhere in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node) for n in ast.walk(node)}
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(ROOT).parent.parts)
    else:
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
                prefix = ".".join(parts[:end])
                if module_file(prefix) is not None:
                    found.add(prefix)
    return found


def closure(script: Path) -> set[Path]:
    """Every project file that running ``script`` executes (the script itself included)."""
    seen: set[Path] = {script}
    todo = [script]
    while todo:
        for name in imported_modules(todo.pop()):
            path = module_file(name)
            if path not in seen:
                seen.add(path)
                todo.append(path)
    return seen


def _relative(paths) -> set[str]:
    return {str(Path(p).relative_to(ROOT)) for p in paths}


def _script(stage: dict) -> Path:
    tokens = shlex.split(stage["cmd"])
    scripts = [t for t in tokens if t.startswith("stages/") and t.endswith(".py")]
    assert len(scripts) == 1, f"cmd {stage['cmd']!r} must run one stages/*.py script"
    return ROOT / scripts[0]


def _outputs(stage: dict) -> set[str]:
    names = set()
    for key in ("outs", "metrics", "plots"):
        for entry in stage.get(key) or []:
            names.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return names


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_are_exactly_the_modules_its_script_imports(name):
    stage = STAGES[name]
    deps = {d for d in stage.get("deps") or [] if d.endswith(".py")}
    imported = _relative(closure(_script(stage)))
    missing, unneeded = sorted(imported - deps), sorted(deps - imported)
    assert not missing and not unneeded, (
        f"stage {name}: dvc.yaml deps lack {missing} (the script imports them) and list {unneeded} (it never imports them)"
    )


def _within(path: str, folders) -> bool:
    return any(path == folder or path.startswith(folder.rstrip("/") + "/") or folder.startswith(path.rstrip("/") + "/") for folder in folders)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_input_named_in_a_stage_cmd_is_a_dep(name):
    """A path in ``cmd`` that another stage makes (or a file of the repository) is read, so it must be a dep.

    Paths of this stage's own outputs, and folders holding its deps or outputs, are not inputs; params.yaml is
    tracked through ``params:``.
    """
    stage = STAGES[name]
    deps, outputs = set(stage.get("deps") or []), _outputs(stage)
    produced = set().union(*(_outputs(other) for other_name, other in STAGES.items() if other_name != name))
    tokens = [t for t in shlex.split(stage["cmd"]) if "/" in t and not t.startswith("-")]
    missing = []
    for token in tokens:
        if token in deps or _within(token, outputs) or _within(token, deps):
            continue
        made_elsewhere = _within(token, produced)
        in_repository = not token.startswith(("data/", "outputs/")) and (ROOT / token).exists()
        if made_elsewhere or in_repository:
            missing.append(token)
    assert not missing, f"stage {name}: cmd reads {sorted(missing)}, which dvc.yaml does not list as deps"


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = {m for m in imported_modules(path) if m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_library_has_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles (imports inside functions count): {cycles}"


def test_importing_one_module_runs_only_what_it_imports():
    """The package ``__init__`` files import nothing eagerly: ``digitgen.io`` pulls in no other project module."""
    assert _relative(closure(ROOT / PACKAGE / "io.py")) == {"digitgen/io.py", "digitgen/errors.py", "digitgen/__init__.py"}
    for init in (ROOT / PACKAGE).rglob("__init__.py"):
        assert imported_modules(init) <= {PACKAGE}, f"{init.relative_to(ROOT)} imports project modules eagerly"


def test_the_checker_sees_imports_inside_functions_and_package_inits(tmp_path):
    """A regression test of the checker itself: it must not miss what it is meant to catch."""
    found = imported_modules(ROOT / "stages" / "sequences.py")
    assert "digitgen.shards" in found and "digitgen.params" in found and "digitgen" in found
