"""What ships inside the package: the default checkpoint and the explorer app, found with importlib.resources.

The wheel itself is built, installed into a fresh virtual environment outside the checkout and run
there by the CI (``.ci/run``, "wheel" step); these tests check the pieces that step relies on.
"""
from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from argparse import Namespace
from pathlib import Path

import core
from core.resources import DEMO_CHECKPOINT, EXPLORER_APP, resource_path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(core.__file__).resolve().parent / "resources"
SHIPPED_FINGERPRINT = "5ab172f3f1151864"   # benchmarks/results/default_checkpoint.json


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_resources_resolve_in_a_process_started_outside_the_checkout(tmp_path):
    code = ("import json; from core.resources import *; from core.cli.serve import APP; "
            "print(json.dumps([str(resource_path(DEMO_CHECKPOINT)), str(resource_path(EXPLORER_APP)), str(APP)]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    ckpt, app, serve_app = map(Path, json.loads(out.stdout))
    assert ckpt == PACKAGE_DIR / "checkpoints" / "demo-cpu-seed0.pt" and ckpt.stat().st_size > 100_000
    assert app == serve_app == PACKAGE_DIR / "explorer.py" and app.is_file()


def test_package_data_covers_every_shipped_non_python_file():
    cfg = _pyproject()["tool"]["setuptools"]
    patterns = cfg["package-data"]["core.resources"]
    files = [p.relative_to(PACKAGE_DIR).as_posix() for p in PACKAGE_DIR.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert DEMO_CHECKPOINT in files
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
    assert any(fnmatch.fnmatch("core.resources", pat) for pat in cfg["packages"]["find"]["include"])


def test_default_checkpoint_is_the_shipped_model():
    from core.train import DEFAULT_CHECKPOINT, _read_checkpoint, _state_fingerprint, load_checkpoint

    assert DEFAULT_CHECKPOINT == resource_path(DEMO_CHECKPOINT)
    assert load_checkpoint(DEFAULT_CHECKPOINT).fingerprint == SHIPPED_FINGERPRINT
    ck = _read_checkpoint(DEFAULT_CHECKPOINT)
    assert _state_fingerprint(ck["state_dict"], ck["config"]) == SHIPPED_FINGERPRINT


def test_serve_runs_the_packaged_app(tmp_path):
    from core.cli.serve import command

    (tmp_path / "sky").mkdir()
    args = Namespace(sky=str(tmp_path / "sky"), workspace=None, checkpoint=None, preset="cpu", port=5123,
                     address="127.0.0.1", show=False)
    cmd = command(args)
    assert cmd[1:4] == ["-m", "panel", "serve"] and Path(cmd[4]) == PACKAGE_DIR / EXPLORER_APP
    assert cmd[cmd.index("--workspace") + 1] == str(tmp_path / "sky-workspace")


def test_checkout_wrapper_calls_the_packaged_app():
    src = (ROOT / "apps" / "explorer.py").read_text()
    assert "from core.resources.explorer import main" in src and "main(script=__file__)" in src


def test_app_arguments(tmp_path):
    from core.resources.explorer import paths

    sky, ws, prepare = paths(["--sky", str(tmp_path / "s"), "--checkpoint", "m.pt"])
    assert (sky, ws) == (tmp_path / "s", tmp_path / "s-workspace") and callable(prepare)
    sky, ws, _ = paths(["--sky", str(tmp_path / "s"), "--workspace", str(tmp_path / "w")])
    assert ws == tmp_path / "w"


def test_unshadow_takes_the_served_folder_off_sys_path(tmp_path, monkeypatch):
    from core.resources.explorer import _unshadow

    script = tmp_path / "explorer.py"
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setitem(sys.modules, "explorer", Namespace())   # a module that is not the package
    _unshadow(script)
    assert str(tmp_path) not in sys.path and "explorer" not in sys.modules


def _third_party_imports(*packages: str) -> set[str]:
    """Top-level names of the modules imported anywhere under ``packages`` that are not stdlib or ours."""
    import ast

    names = set()
    for pkg in packages:
        for f in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                if isinstance(node, ast.Import):
                    names |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"core", "explorer", "__future__"}


def test_every_imported_distribution_is_declared():
    import re
    from importlib.metadata import packages_distributions

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    declared = {norm(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0]) for d in _pyproject()["project"]["dependencies"]}
    dists = packages_distributions()
    imported = {m: {norm(d) for d in dists.get(m, [m])} for m in _third_party_imports("core", "explorer", "apps")}
    assert {"colorcet", "torch", "sklearn"} <= set(imported)
    assert {m: d for m, d in imported.items() if not d & declared} == {}
