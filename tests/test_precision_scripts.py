"""The speed and precision scripts end to end at their smallest: rows, columns, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image
from test_stylize import save_checkpoint

from fastnst.models import TransformerNet

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_benchmark_stylize_times_fp32_and_bf16_rows(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    printed = run_script(
        "benchmark_stylize.py", "--sizes", "256", "--models", "reference", "johnson_fast",
        "--variants", "torch", "bf16", "--repeats", "1", "--min-time", "0.01",
        "--matmul", "256", "--out", str(out),
    )  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    found = {(r["model"], r["variant"]) for r in rows}
    assert {("reference", "eager"), ("johnson_fast", "torch")} <= found
    torch_row = next(r for r in rows if r["variant"] == "torch")
    assert torch_row["matches"] and torch_row["psnr"] > 80 and torch_row["speedup"] > 0
    assert torch_row["matmul_gflops"] > 0 and torch_row["reduced_matmul_gflops"] > 0
    assert torch_row["first_call_s"] > 0
    bf16_row = next(r for r in rows if r["variant"] == "bf16")
    assert not bf16_row["matches"] and 20 < bf16_row["psnr"] < 80  # rounded, not exact
    assert "| PSNR |" in printed and "256: matrix product" in printed


def test_precision_accuracy_reports_each_photo_and_the_convolution_scan(tmp_path: Path) -> None:
    torch_net = TransformerNet(width=8, num_residual_blocks=1)
    ckpt = save_checkpoint(torch_net, tmp_path / "net.ckpt")
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(2):
        Image.new("RGB", (40, 30), (60 * k, 120, 200)).save(photos / f"p{k}.png")
    out = tmp_path / "precision.json"
    printed = run_script(
        "precision_accuracy.py", "--ckpt", str(ckpt), "--photos", str(photos), "--size", "32",
        "--min-psnr", "10", "--scan", "--out", str(out),
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert [row["photo"] for row in result["checkpoints"]] == ["p0.png", "p1.png"]
    assert all(row["psnr"] > 20 and 0 <= row["over_2_levels"] <= 1 for row in result["checkpoints"])
    assert len(result["scan"]) == 6 * 5 * 3
    assert min(row["rel_error"] for row in result["scan"]) < 0.01  # bf16 rounding: ~0.3 %
    assert "| in channels | kernel | stride |" in printed
