"""Run a documented command at a tiny size: the substitutions of the docs test, in one place.

The docs test puts executables named ``python``, ``fastnst``, ``pip``, ``pytest``,
``tensorboard`` and ``mkdocs`` first on PATH; each runs ``shim.py TOOL ARGS...``, which rewrites
the arguments and runs the real tool. Documented in docs/development.md ("Every documented
command runs"). The rewriting:

- ``python train.py`` / ``fastnst train``: tiny overrides are appended (``SHRINK_TRAIN``: a
  random VGG, 32 px, 2 steps, 4 when resuming) and the documented values of those keys
  dropped; a run with no ``data.root`` gets the workspace's photos, one with no painting file
  gets ``painting.jpg``.
- ``python stylize.py`` / ``fastnst stylize``: as written (the workspace holds small files with
  the documented names).
- ``scripts/optimize.py``, ``compare.py``, ``ablate.py`` (and their ``fastnst`` forms): a random
  VGG, 2 iterations, 32 px.
- ``fastnst demo``, ``tensorboard``, ``mkdocs serve``: started, asked for their page once, stopped.
- ``pip install``: not run again (tests/test_install.py installs into a fresh venv);
  ``pytest``: not run inside the test run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

WORKSPACE = Path.cwd()
SHRINK_TRAIN = {
    "trainer.max_steps": "2", "trainer.val_check_interval": "1", "trainer.limit_val_batches": "1",
    "trainer.log_every_n_steps": "1", "data.image_size": "32", "data.batch_size": "2",
    "data.num_workers": "0", "data.val_images": "1", "vgg.weights": "random", "style.size": "48",
    "samples.every_n_steps": "1", "samples.count": "1", "+trainer.enable_model_summary": "false",
}  # fmt: skip
SHRINK_SOLVER = {"vgg.weights": "random", "iterations": "2", "size": "32", "style.size": "32"}
SHRINK_COMPARE = {"vgg.weights": "random", "size": "32", "style.size": "32", "iterations": "[2]"}
SHRINK_ABLATE = {"vgg.weights": "random", "size": "32", "style.size": "32",
                 "solver.iterations": "2"}  # fmt: skip
REAL_PYTHON = os.environ["DOCS_REAL_PYTHON"]


def _key(token: str) -> str:
    return token.split("=", 1)[0].lstrip("+~") if "=" in token else ""


def shrink(args: list[str], overrides: dict[str, str]) -> list[str]:
    """``args`` with ``overrides`` appended and the documented values of those keys dropped."""
    keys = {_key(k) for k in overrides}
    kept = [a for a in args if _key(a) not in keys]
    return kept + [f"{k}={v}" for k, v in overrides.items()]


def train_args(args: list[str]) -> list[str]:
    extra = dict(SHRINK_TRAIN)
    keys = {_key(a) for a in args}
    if "data.root" not in keys and not any(a.startswith("data=") for a in args):
        extra = {"data": "folder", "data.root": str(WORKSPACE / "photos"), **extra}
    if "style.image" not in keys and "styles" not in keys:
        extra["style.image"] = str(WORKSPACE / "painting.jpg")
    if "ckpt_path" in keys:  # a resumed run goes on past the 2 steps of the first
        extra["trainer.max_steps"] = "4"
    return shrink(args, extra)


def solver_args(args: list[str], overrides: dict[str, str]) -> list[str]:
    """The solver's tiny overrides, and the workspace's painting where none is given."""
    extra = dict(overrides)
    if "style.image" not in {_key(a) for a in args}:
        extra["style.image"] = str(WORKSPACE / "painting.jpg")
    return shrink(args, extra)


def run(argv: list[str]) -> int:
    return subprocess.call(argv)


def serve(argv: list[str], url: str) -> int:
    """Start a server, ask it for ``url`` once, stop it: 0 when it answered 200."""
    process = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return process.returncode or 1
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    return 0 if response.status == 200 else 1
            except OSError:
                time.sleep(0.5)
        return 1
    finally:
        process.terminate()
        process.wait(timeout=30)


def python(args: list[str]) -> int:
    script = args[0] if args else ""
    name = Path(script).name
    if script.startswith("-"):
        return run([REAL_PYTHON, *args])
    if name == "train.py":
        return run([REAL_PYTHON, script, *train_args(args[1:])])
    if name == "optimize.py":
        return run([REAL_PYTHON, script, *solver_args(args[1:], SHRINK_SOLVER)])
    if name == "compare.py":
        return run([REAL_PYTHON, script, *solver_args(args[1:], SHRINK_COMPARE)])
    if name == "ablate.py":
        return run([REAL_PYTHON, script, *solver_args(args[1:], SHRINK_ABLATE)])
    return run([REAL_PYTHON, *args])


def fastnst(args: list[str]) -> int:
    command, rest = (args[0], args[1:]) if args else ("", [])
    base = [REAL_PYTHON, "-m", "fastnst", command]
    if command == "train":
        return run([*base, *train_args(rest)])
    if command == "optimize":
        return run([*base, *solver_args(rest, SHRINK_SOLVER)])
    if command == "compare":
        return run([*base, *solver_args(rest, SHRINK_COMPARE)])
    if command == "ablate":
        return run([*base, *solver_args(rest, SHRINK_ABLATE)])
    if command == "demo" and "--fetch-ort-web" not in rest and "--help" not in rest:
        return serve([*base, *rest, "--port", "8765"], "http://127.0.0.1:8765/")
    return run([*base, *rest])


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    if tool == "python":
        return python(args)
    if tool == "fastnst":
        return fastnst(args)
    if tool == "tensorboard":
        return run([REAL_PYTHON, "-m", "tensorboard.main", *args, "--inspect"])
    if tool == "mkdocs" and args[:1] == ["build"]:
        return run([REAL_PYTHON, "-m", "mkdocs", *args])
    if tool in ("pip", "pytest"):
        print(f"docs test: `{tool} {' '.join(args)}` not run again ({tool} is what runs it)")
        return 0
    print(f"docs test: no rule for {tool}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
