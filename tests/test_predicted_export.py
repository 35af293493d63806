"""Split ONNX export of style prediction + CIN: predictor and transform network as two graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import write_images
from numerics import assert_close_fp32, layer_count
from test_arbitrary_stylize import save_adain_checkpoint
from test_predicted import perturbed

from fastnst import FastNSTError, Stylizer
from fastnst.inference.command import run
from fastnst.inference.export import (
    INPUT_NAME,
    STYLE_IMAGE_NAME,
    STYLE_VECTOR_NAME,
    export_model,
    predictor_path,
)
from fastnst.inference.runtime import OnnxModel
from fastnst.models.predicted import PredictedStyleNet

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def lively() -> PredictedStyleNet:
    """Heads that depend on the painting (they start constant, see test_predicted)."""
    torch.manual_seed(0)
    model = PredictedStyleNet()
    model.encoder.load_vgg("random", seed=2)
    return perturbed(model)


@pytest.fixture(scope="module")
def exported(lively: PredictedStyleNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model(lively, tmp_path_factory.mktemp("onnx") / "predicted.onnx", "onnx")


def test_export_writes_the_predictor_and_the_transform_network(exported: Path) -> None:
    import onnxruntime as ort

    style = ort.InferenceSession(str(predictor_path(exported)), providers=["CPUExecutionProvider"])
    main = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    assert [i.name for i in style.get_inputs()] == [STYLE_IMAGE_NAME]
    assert [o.name for o in style.get_outputs()] == [STYLE_VECTOR_NAME]
    assert [i.name for i in main.get_inputs()] == [INPUT_NAME, STYLE_VECTOR_NAME]
    assert predictor_path(exported).name == "predicted.style.onnx"


@pytest.mark.parametrize(("photo", "painting"), [((1, 37, 29), (45, 31)), ((2, 5, 3), (8, 9))])
def test_the_two_graphs_match_pytorch_on_odd_sizes(
    lively: PredictedStyleNet, exported: Path, photo: tuple[int, ...], painting: tuple[int, int]
) -> None:
    onnx = OnnxModel(exported)
    content, style = torch.rand(photo[0], 3, *photo[1:]), torch.rand(1, 3, *painting)
    with torch.no_grad():
        vector, expected = lively.style_statistics(style), lively(content, style)
    cached = onnx.style_statistics(style)
    depth = layer_count(lively.encoder) + layer_count(lively.predictor)  # 9 + 1 to the vector
    assert_close_fp32(cached, vector, depth=depth, what="style vector")
    out = onnx(content, style_vector=cached)
    assert out.shape == content.shape and expected.std() > 0.01  # a real comparison
    # painting to pixels: 10 to the vector, the gamma and beta heads, the 16 convolutions
    assert_close_fp32(out, expected, depth=layer_count(lively), scale=1.0)


def test_the_onnx_stylizer_blends_and_takes_alpha_like_the_checkpoint(
    lively: PredictedStyleNet, tmp_path: Path
) -> None:
    ckpt = save_adain_checkpoint(tmp_path / "predicted.ckpt", lively)
    onnx = tmp_path / "exported.onnx"
    run(ckpt=str(ckpt), output=str(onnx), export="onnx")
    assert predictor_path(onnx).is_file()
    paintings = write_images(tmp_path / "paintings", 2, size=(50, 41), seed=4)
    content = torch.rand(1, 3, 27, 35)
    options = {"style_image": paintings, "style_image_weights": [3, 1], "alpha": 0.6,
               "style_size": 40}  # fmt: skip
    ours = Stylizer.from_checkpoint(onnx, **options).stylize(content)
    theirs = Stylizer.from_checkpoint(ckpt, **options).stylize(content)
    assert (ours - content).abs().amax() > 0.05
    assert_close_fp32(ours, theirs, depth=layer_count(lively), scale=1.0)


def test_a_missing_or_misnamed_half_gets_a_one_line_error(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(
        FastNSTError, match=r"style predictor of a split export; pass ckpt=.*predicted\.onnx"
    ):
        OnnxModel(predictor_path(exported))
    alone = tmp_path / "alone.onnx"
    alone.write_bytes(exported.read_bytes())
    with pytest.raises(FastNSTError, match="keep alone.style.onnx beside it"):
        OnnxModel(alone)
    renamed = tmp_path / "renamed.onnx"  # the pair renamed together still loads
    renamed.write_bytes(exported.read_bytes())
    predictor_path(renamed).write_bytes(predictor_path(exported).read_bytes())
    assert OnnxModel(renamed).arbitrary


def test_an_existing_predictor_is_not_overwritten(
    lively: PredictedStyleNet, tmp_path: Path
) -> None:
    predictor_path(tmp_path / "x.onnx").write_bytes(b"keep me")
    with pytest.raises(FastNSTError, match="exists"):
        export_model(lively, tmp_path / "x.onnx", "onnx")
    assert predictor_path(tmp_path / "x.onnx").read_bytes() == b"keep me"
    assert not (tmp_path / "x.onnx").exists()
