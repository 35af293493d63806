"""Atomic writes: all or nothing, and never over an existing file unless asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastnst.errors import FastNSTError
from fastnst.io.atomic import atomic_path, write_json


def test_success_renames_and_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".bin" and tmp.name.startswith(".")
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.bin"]


def test_existing_output_is_refused_without_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(FastNSTError, match="overwrite=true"), atomic_path(target, overwrite=False):
        pass
    write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
