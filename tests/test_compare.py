"""The comparison report and the target writer: files, consistent numbers, resumability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS, write_images
from hydra import compose, initialize_config_dir
from PIL import Image
from test_solver import make_tiny_loss, smooth_image

from fastnst.app.solver_runs import run_compare, run_optimize
from fastnst.app.train import train
from fastnst.models import TransformerNet
from fastnst.quality import quality_measures
from fastnst.solver import SolverConfig
from fastnst.solver.compare import QUALITY, compare_image, parity_n, summarize
from fastnst.solver.figures import have_matplotlib
from fastnst.solver.report import write_report

ITERATIONS = [0, 2, 6]


def test_parity_n_is_the_first_count_strictly_below_the_network() -> None:
    totals = {50: 3.0, 100: 1.5, 300: 1.0, 500: 0.5}
    assert parity_n(totals, 1.2) == 300
    assert parity_n(totals, 1.5) == 300  # a tie does not beat the network
    assert parity_n(totals, 5.0) == 50
    assert parity_n(totals, 0.1) is None


def check_report(paths: dict[str, Path], names: list[str], iterations: list[int]) -> dict:
    """Every file exists and every derived number agrees with the losses it is derived from."""
    report = json.loads(paths["json"].read_text())
    assert [image["name"] for image in report["images"]] == names
    for image in report["images"]:
        solver = {int(n): terms for n, terms in image["solver"].items()}
        assert sorted(solver) == iterations
        beaten = [n for n in iterations if solver[n]["total"] < image["network"]["total"]]
        assert image["parity_n"] == (min(beaten) if beaten else None)
        below = [i for i, total in enumerate(image["curve"]) if total < image["network"]["total"]]
        assert image["parity_iteration"] == (below[0] if below else None)
        if image["parity_n"] is not None:
            assert image["parity_iteration"] <= image["parity_n"]
        for n in iterations:
            assert image["curve"][n] == solver[n]["total"]
            expected = image["solver_seconds"][str(n)] / image["network_seconds"]
            assert image["speedup"][str(n)] == pytest.approx(expected)
        seconds = [image["solver_seconds"][str(n)] for n in iterations]
        assert seconds == sorted(seconds)
    mean = report["mean"]
    for n in iterations:
        expected = sum(i["solver"][str(n)]["total"] for i in report["images"]) / len(names)
        assert mean["solver"][str(n)]["total"] == pytest.approx(expected)
    beaten = [n for n in iterations if mean["solver"][str(n)]["total"] < mean["network"]["total"]]
    assert mean["parity_n"] == (min(beaten) if beaten else None)
    check_quality(report, iterations)
    markdown = paths["md"].read_text()
    assert f"Loss parity N (mean losses): {mean['parity_n']}" in markdown
    assert all(name in markdown for name in names)
    assert "| method | " + " | ".join(QUALITY.values()) + " |" in markdown
    photo = mean["quality"]["photo"]
    assert f"| photo | {photo['color_swd']:.4g} | {photo['texture_swd']:.4g} | 1 | 1 |" in markdown
    assert ("plot" in paths) == have_matplotlib()  # skipped, with a warning, without matplotlib
    if "plot" in paths:
        with Image.open(paths["plot"]) as plot:
            assert plot.size == (720, 440)
    with Image.open(paths["grid"]) as grid:
        assert grid.height == 20 + (48 + 4) * len(names) + 4  # header + rows of height 48
    return report


def check_quality(report: dict, iterations: list[int]) -> None:
    """Every method of every image is measured; the photo is its own perfect SSIM reference."""
    methods = ["photo", "network", *(f"solver@{n}" for n in iterations)]
    for image in [*report["images"], report["mean"]]:
        assert list(image["quality"]) == methods
        assert all(set(q) == set(QUALITY) for q in image["quality"].values())
        assert image["quality"]["photo"]["ssim"] == pytest.approx(1.0)
        assert image["quality"]["photo"]["edge_ssim"] == pytest.approx(1.0)
    for method in methods:
        values = [image["quality"][method]["color_swd"] for image in report["images"]]
        expected = sum(values) / len(values)
        assert report["mean"]["quality"][method]["color_swd"] == pytest.approx(expected)


def test_compare_writes_consistent_report(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TransformerNet(width=4, num_residual_blocks=1, head="sigmoid").eval()
    loss = make_tiny_loss()
    config = SolverConfig(init="mix")
    contents = {"a.png": smooth_image(24, 32, seed=1), "b.png": smooth_image(32, 24, seed=2)}
    comparisons = [
        compare_image(name, model, loss, content, ITERATIONS, config, warmup=1, repeats=2)
        for name, content in contents.items()
    ]
    assert comparisons[0].curve[0] > comparisons[0].curve[-1]  # the solver made progress
    style = smooth_image(40, 40)
    paths = write_report(tmp_path / "report", comparisons, style, grid_height=48)
    report = check_report(paths, ["a.png", "b.png"], ITERATIONS)
    solver = comparisons[0].images["solver@6"]
    expected = quality_measures(solver, contents["a.png"], style)  # measured in write_report
    assert report["images"][0]["quality"]["solver@6"] == pytest.approx(expected)
    summary = summarize(comparisons)
    assert summary["speedup"][6] == pytest.approx(
        summary["solver_seconds"][6] / summary["network_seconds"]
    )


def compose_root(name: str, tmp_path: Path, style_image: Path, *overrides: str):
    base = [
        "vgg.weights=random",
        f"style.image={style_image}",
        "style.size=48",
        f"paths.output_dir={tmp_path / name}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        "progress=false",
    ]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=name, overrides=[*base, *overrides])


def test_run_compare_uses_the_checkpoints_loss(make_cfg, tmp_path: Path, style_image: Path) -> None:
    train(make_cfg("loss.style_weight=12345.0", "trainer.max_steps=2"))  # loss=examples' own
    content = tmp_path / "photos"
    write_images(content, 2, size=(32, 24), seed=5)
    cfg = compose_root(
        "compare", tmp_path, style_image,
        f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", f"content_dir={content}",
        "iterations=[4,0,2]", "size=32", "repeats=1", "grid_height=48",
    )  # fmt: skip
    report = check_report(run_compare(cfg), ["img_000.png", "img_001.png"], [0, 2, 4])
    assert report["loss"]["style_weight"] == 12345.0  # the checkpoint's, not style=starry_night's
    assert report["images"][0]["size"] == [24, 32]


def test_run_optimize_folder_is_resumable(tmp_path: Path, style_image: Path) -> None:
    content = tmp_path / "photos"
    write_images(content / "sub", 2, size=(24, 20), seed=7)
    out = tmp_path / "targets"
    cfg = compose_root(
        "optimize", tmp_path, style_image, f"content={content}", f"output={out}", "iterations=3",
        "tensorboard=true",
    )  # fmt: skip
    losses = run_optimize(cfg)
    outputs = sorted(out.rglob("*.png"))
    assert [p.relative_to(out).as_posix() for p in outputs] == [
        "sub/img_000.png",
        "sub/img_001.png",
    ]
    assert json.loads((out / "losses.json").read_text()) == losses
    assert set(losses) == {str(p) for p in outputs}
    with Image.open(outputs[0]) as image:
        assert image.size == (24, 20)
    outputs[1].unlink()
    kept = outputs[0].stat().st_mtime_ns
    again = run_optimize(cfg)
    assert outputs[1].is_file() and outputs[0].stat().st_mtime_ns == kept
    assert again[str(outputs[0])] == losses[str(outputs[0])]
    assert (tmp_path / "optimize" / "tensorboard" / "img_001").is_dir()
