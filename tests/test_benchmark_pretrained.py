"""scripts/benchmark_pretrained.py at its smallest: every catalogue network timed, JSON written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_every_catalogue_network_is_timed(tmp_path: Path) -> None:
    out = tmp_path / "pretrained.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark_pretrained.py"), "--sizes", "64",
         "--repeats", "1", "--paths", "fp32", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {row["arch"] for row in rows} == {"johnson", "johnson2016", "adain"}
    assert len(rows) == 6 and all(row["fp32_s"] > 0 for row in rows)
    assert "| adain | 64 |" in result.stdout
