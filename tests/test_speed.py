"""The speed paths (channels_last, torch.compile, bf16 autocast) compute the baseline's loss.

Tolerances against the eager, contiguous fp32 loss on the same batch: channels_last 1e-5
relative on the loss and 1e-4 on the gradient vector (norm of the difference over the norm), as
they only reorder float sums; compile 1e-4 and 1e-3 (fused kernels reorder more); bf16 autocast
5e-2 on the loss (bf16 keeps 8 mantissa bits in the convolutions; Gram matrices and reductions
stay fp32).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fastnst.app.train import train
from fastnst.losses import gram_matrix, vgg_perceptual_loss
from fastnst.models import TransformerNet
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.module import StyleTransferModule

pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log")
JOHNSON_LAYERS = {"relu1_2": 1.0, "relu2_2": 1.0, "relu3_3": 1.0, "relu4_3": 1.0}


def _module(**speed: bool) -> StyleTransferModule:
    """Johnson's model and loss (random VGG16), same weights and style target every call."""
    torch.manual_seed(0)
    loss = vgg_perceptual_loss(
        arch="vgg16", content_layers={"relu2_2": 1.0}, style_layers=JOHNSON_LAYERS,
        weights="random", style_weight=1e5, tv_weight=1.0,
    )  # fmt: skip
    loss.set_style(torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(1)))
    return StyleTransferModule(TransformerNet(width=8, num_residual_blocks=2), loss, **speed)


def _loss_and_grads(module: StyleTransferModule) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss and all transform-net gradients, flattened, for a fixed batch."""
    batch = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    module.zero_grad()
    total = module.training_step(batch, 0)
    total.backward()
    return total.detach(), torch.cat([p.grad.flatten() for p in module.transformer.parameters()])


def _assert_close(result, reference, rtol: float) -> None:
    """Loss to ``rtol``; gradient vector to ``10 * rtol`` in norm (conv biases ahead of an
    instance norm have a zero true gradient, so elementwise checks would compare noise)."""
    (loss, grads), (ref_loss, ref_grads) = result, reference
    assert loss.item() == pytest.approx(ref_loss.item(), rel=rtol)
    assert (grads - ref_grads).norm() <= 10 * rtol * ref_grads.norm()


def test_channels_last_matches_baseline_and_is_nhwc() -> None:
    baseline = _loss_and_grads(_module())
    module = _module(channels_last=True)
    conv = module.loss.encoder.features[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    first = module.transformer.net[0][1].weight  # ConvLayer(3, w, 9): pad, conv, ...
    assert first.is_contiguous(memory_format=torch.channels_last)
    _assert_close(_loss_and_grads(module), baseline, rtol=1e-5)


def test_compiled_module_keeps_plain_state_dict_keys() -> None:
    plain, compiled = _module(), _module(compile=True)
    keys = list(compiled.state_dict())
    assert keys == list(plain.state_dict())
    assert not any("_orig_mod" in key for key in keys)
    assert not any(key.startswith("loss.") for key in keys)  # the VGG never enters checkpoints


@pytest.mark.slow
def test_compile_matches_baseline() -> None:
    baseline = _loss_and_grads(_module())
    _assert_close(_loss_and_grads(_module(compile=True, channels_last=True)), baseline, rtol=1e-4)


def test_bf16_autocast_matches_baseline_loosely() -> None:
    baseline = _loss_and_grads(_module())
    module = _module(channels_last=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = _loss_and_grads(module)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(baseline[0].item(), rel=5e-2)
    assert loss.item() != baseline[0].item()  # bf16 really ran


def test_gram_matrix_stays_fp32_under_autocast() -> None:
    features = torch.rand(2, 16, 12, 12, generator=torch.Generator().manual_seed(3)) * 10
    reference = gram_matrix(features)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features)
    assert gram.dtype == torch.float32
    assert torch.allclose(gram, reference, rtol=1e-6)  # a bf16 bmm is off by ~1e-3


def test_bf16_mixed_training_keeps_fp32_master_weights(make_cfg, tmp_path: Path) -> None:
    metrics = train(make_cfg("trainer.precision=bf16-mixed"))
    assert torch.isfinite(torch.tensor(metrics["train/total"]))
    checkpoint = load_style_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert all(p.dtype == torch.float32 for p in checkpoint.model.parameters())


@pytest.mark.slow
def test_compiled_training_writes_a_checkpoint_that_loads_without_compile(
    make_cfg, tmp_path: Path
) -> None:
    train(make_cfg("speed.compile=true", "trainer.max_steps=2", "trainer.val_check_interval=2"))
    checkpoint = load_style_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert checkpoint.global_step == 2
    image = torch.rand(1, 3, 32, 32)
    assert checkpoint.model(image).shape == image.shape
