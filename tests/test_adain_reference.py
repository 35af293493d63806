"""AdaIN is pytorch-AdaIN: its published files load and compute what its code computes.

The reference is transcribed in ``tests/pytorch_adain.py``; both sides get the same seeded random
weights, written with their exact keys and shapes by ``torch.save`` (``vgg_normalised.pth``: the
Caffe preprocessing at index 0, as in the real file). Tolerance: 1e-5 relative (L2), about 100
float32 roundings (6e-8 each) accumulated through 22 convolutions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from adain_equivalence import compare_adain, published_weights
from conftest import write_images
from hydra import compose, initialize_config_dir
from pytorch_adain import Net, make_decoder, make_vgg, style_transfer
from torch import Tensor, nn

from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.losses.adain import AdaINLoss
from fastnst.models import build_model
from fastnst.models.adain import AdaINNet, blend_statistics
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.arbitrary import ArbitraryStyleModule
from fastnst.vgg import VGGFeatures

TOL = 1e-5
SIZES = [(37, 53), (64, 64)]  # odd (their output 40 x 56, cropped by ours) and even


def rel(ours: Tensor, theirs: Tensor) -> float:
    return float((ours - theirs).detach().norm() / theirs.detach().norm())


def cosine(a: Tensor, b: Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``decoder.pth`` and ``vgg_normalised.pth`` (all 53 modules) side by side."""
    folder = tmp_path_factory.mktemp("pytorch_adain")
    vgg, decoder = published_weights(seed=0)
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    return folder


def reference(folder: Path) -> tuple[nn.Sequential, nn.Sequential]:
    """Their (vgg, decoder), loaded and cut as their test.py does."""
    vgg, decoder = make_vgg().eval(), make_decoder().eval()
    decoder.load_state_dict(torch.load(folder / "decoder.pth"))
    vgg.load_state_dict(torch.load(folder / "vgg_normalised.pth"))
    return nn.Sequential(*list(vgg.children())[:31]), decoder


def ours(folder: Path) -> AdaINNet:
    return load_style_checkpoint(folder / "decoder.pth").model


def test_keys_and_layout_are_theirs(published: Path) -> None:
    model = AdaINNet(encoder="vgg_normalised", unbiased=True)
    vgg, decoder = reference(published)
    for mine, theirs in ((model.encoder.features, vgg), (model.decoder, decoder)):
        assert {k: v.shape for k, v in mine.state_dict().items()} == {
            k: v.shape for k, v in theirs.state_dict().items()
        }
        assert [type(m) for m in mine] == [type(m) for m in theirs]
    pools = [m for m in model.encoder.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.ceil_mode for p in pools)
    assert model.config == {"eps": 1e-5, "encoder": "vgg_normalised", "unbiased": True}
    assert set(AdaINNet().config) == {"mean", "std", "eps"}  # the old default, as before


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_stylizes_as_their_test_py(published: Path, size: tuple[int, int], alpha: float) -> None:
    loaded = load_style_checkpoint(published / "decoder.pth")
    assert loaded.version == "naoto0804/pytorch-AdaIN" and loaded.arch == "adain"
    vgg, decoder = reference(published)
    torch.manual_seed(1)
    content, style = torch.rand(1, 3, *size), torch.rand(1, 3, 45, 30)
    with torch.no_grad():
        theirs = style_transfer(vgg, decoder, content, style, alpha)
        mine = loaded.model(content, style, alpha)
        features = loaded.model.encoder(content)
        expected = [vgg[: i + 1](content) for i in (3, 10, 17, 30)]
    assert theirs.shape[-2:] == tuple(8 * -(-n // 8) for n in size)  # theirs: ceil to 8
    assert mine.shape[-2:] == size
    assert rel(mine, theirs[..., : size[0], : size[1]]) < TOL
    for got, want in zip(features, expected, strict=True):
        assert got.shape == want.shape and rel(got, want) < TOL


def test_blends_as_their_interpolation(published: Path) -> None:
    model, (vgg, decoder) = ours(published), reference(published)
    content, styles = torch.rand(1, 3, 40, 48), torch.rand(3, 3, 40, 48)
    weights = [0.5, 0.3, 0.2]
    with torch.no_grad():
        theirs = style_transfer(vgg, decoder, content.expand_as(styles), styles, 0.8, weights)
        stats = blend_statistics(model.style_statistics(styles), torch.tensor(weights))
        mine = model(content, style_stats=stats, alpha=0.8)
    assert rel(mine, theirs) < TOL


@pytest.mark.parametrize("size", [(32, 48), (64, 64)])  # theirs needs sides divisible by 8
def test_loss_and_gradients_are_theirs(published: Path, size: tuple[int, int]) -> None:
    vgg, decoder = reference(published)
    net = Net(vgg, decoder)
    model = ours(published)
    module = ArbitraryStyleModule(model, AdaINLoss(1.0, 10.0, "paper", unbiased=True))
    torch.manual_seed(2)
    content, style = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    loss_c, loss_s, g_t, per_layer = net(content, style)
    g_t.retain_grad()
    (1.0 * loss_c + 10.0 * loss_s).backward()  # their train.py: content 1, style 10
    terms, output = module.losses(content, style)
    output.retain_grad()
    terms["total"].backward()
    assert rel(terms["content"], loss_c) < TOL and rel(terms["style"], loss_s) < TOL
    assert rel(terms["total"], loss_c + 10 * loss_s) < TOL
    for name, theirs in zip(("relu1_1", "relu2_1", "relu3_1", "relu4_1"), per_layer, strict=True):
        assert rel(terms[f"style_{name}"], theirs) < TOL
    assert cosine(output.grad, g_t.grad) >= 0.99999  # on the decoder's output pixels
    mine = torch.cat([p.grad.flatten() for p in model.decoder.parameters()])
    want = torch.cat([p.grad.flatten() for p in decoder.parameters()])
    assert cosine(mine, want) >= 0.99999 and rel(mine, want) < 1e-4
    assert all(p.grad is None for p in model.encoder.parameters())


def _named_outputs(vgg: nn.Sequential) -> dict[str, int]:
    """Their index of each VGG layer name (relu2_1, pool3 ...), by walking their Sequential."""
    names, block, conv = {}, 1, 0
    for index, module in enumerate(vgg):
        if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
            conv += 1
        elif isinstance(module, nn.ReLU):
            names[f"relu{block}_{conv}"] = index
        elif isinstance(module, nn.MaxPool2d):
            names[f"pool{block}"] = index
            block, conv = block + 1, 0
    return names


@pytest.mark.parametrize("size", [(21, 35), (24, 40)])  # block 5 needs >= 17 px
def test_vgg_normalised_is_a_loss_network(published: Path, size: tuple[int, int]) -> None:
    vgg = make_vgg().eval()
    vgg.load_state_dict(torch.load(published / "vgg_normalised.pth"))
    layers = ["relu1_1", "relu1_2", "pool1", "relu2_2", "relu3_4", "relu4_1", "pool4", "relu5_4"]
    network = VGGFeatures("vgg19", layers, weights=str(published / "vgg_normalised.pth"))
    assert not list(network.parameters()) and not network.state_dict()  # frozen, never saved
    index = _named_outputs(vgg)
    image = torch.rand(1, 3, *size, requires_grad=True)
    outputs, x, theirs = network(image), image, {}
    for position, module in enumerate(vgg):  # theirs, one pass: their output at each index
        x = theirs[position] = module(x)
    for name in layers:
        want = theirs[index[name]]
        assert outputs[name].shape == want.shape and rel(outputs[name], want) < TOL, name
    (grad,) = torch.autograd.grad(sum(o.square().mean() for o in outputs.values()), image)
    (want,) = torch.autograd.grad(sum(theirs[index[n]].square().mean() for n in layers), image)
    assert cosine(grad, want) >= 0.99999


def test_bad_files_are_one_line_errors(published: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "decoder.pth").write_bytes((published / "decoder.pth").read_bytes())
    with pytest.raises(FastNSTError, match=r"vgg_normalised\.pth.*download") as err:
        load_style_checkpoint(alone / "decoder.pth")
    state = torch.load(published / "vgg_normalised.pth")
    state["9.weight"] = state["9.weight"][:, :32]
    torch.save(state, alone / "vgg_normalised.pth")
    with pytest.raises(FastNSTError, match=r"vgg_normalised\.pth.*9\.weight.*\(128, 64, 3, 3\)"):
        load_style_checkpoint(alone / "decoder.pth")
    decoder = torch.load(published / "decoder.pth")
    decoder["5.weight"] = decoder["5.weight"][:, :, :1]
    torch.save(decoder, alone / "decoder.pth")
    with pytest.raises(FastNSTError, match=r"decoder\.pth.*5\.weight.*\(256, 256, 3, 3\)") as err:
        load_style_checkpoint(alone / "decoder.pth")
    assert "\n" not in str(err.value)
    vgg_file = str(published / "vgg_normalised.pth")
    with pytest.raises(FastNSTError, match="vgg19"):
        VGGFeatures("vgg16", ["relu2_2"], weights=vgg_file)
    with pytest.raises(FastNSTError, match="model.encoder=vgg_normalised"):
        AdaINNet().encoder.load_vgg(vgg_file)


def test_offline_imagenet_names_the_file_to_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(FastNSTError, match=r"releases/download/v0\.0\.0/vgg_normalised\.pth"):
        AdaINNet(encoder="vgg_normalised").encoder.load_vgg("imagenet")


def test_checkpoint_config_rebuilds_either_encoder(published: Path) -> None:
    model = ours(published)
    rebuilt = build_model("adain", **model.config)
    rebuilt.load_state_dict(model.state_dict())
    content, style = torch.rand(1, 3, 20, 27), torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(content, style), model(content, style))
    old = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "eps": 1e-5}
    assert build_model("adain", **old).config == old  # checkpoints of earlier versions
    with pytest.raises(FastNSTError, match="model.encoder"):
        AdaINNet(encoder="vgg16")


def test_experiment_adain_is_the_reference_and_smoke_stays_scale_free() -> None:
    configs = Path(__file__).resolve().parents[1] / "configs"
    with initialize_config_dir(config_dir=str(configs), version_base=None):
        reference_cfg = compose(config_name="train", overrides=["experiment=adain"])
        smoke = compose(config_name="train", overrides=["experiment=adain_smoke"])
    assert reference_cfg.model.encoder == "vgg_normalised" and reference_cfg.model.unbiased
    loss = reference_cfg.loss
    assert (loss.normalization, loss.style_weight, loss.content_weight) == ("paper", 10.0, 1.0)
    assert loss.unbiased and reference_cfg.vgg.weights == "imagenet"
    assert (reference_cfg.optim.lr, reference_cfg.optim.lr_decay) == (1e-4, 5e-5)
    assert (reference_cfg.data.batch_size, reference_cfg.data.image_size) == (8, 256)
    assert smoke.model.encoder == "torchvision" and smoke.loss.normalization == "target"
    assert smoke.vgg.weights == "random"


def test_equivalence_rows_for_the_script() -> None:
    rows = compare_adain((16, 24), seed=1)
    assert [r["term"] for r in rows] == ["content", "style_relu1_1", "style_relu2_1",
                                         "style_relu3_1", "style_relu4_1", "total"]  # fmt: skip
    assert all(abs(r["ratio"] - 1) < TOL and r["cosine"] >= 0.99999 for r in rows), rows


def test_the_recipe_trains_on_their_encoder_file(make_cfg, published: Path, tmp_path: Path) -> None:
    paintings = tmp_path / "paintings"
    write_images(paintings, 4, size=(40, 48), seed=3)
    weights = published / "vgg_normalised.pth"
    cfg = make_cfg(
        "model=adain_reference", "loss=adain_paper", "data=pairs", f"data.style_root={paintings}",
        "data.val_styles=2", f"vgg.weights={weights}", "trainer.max_steps=2",
    )  # fmt: skip
    assert train(cfg)["train/total"] > 0
    loaded = load_style_checkpoint(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt")
    assert loaded.model.config == {"eps": 1e-5, "encoder": "vgg_normalised", "unbiased": True}
    vgg, decoder = reference(published)  # their encoder file; our trained decoder, in their net
    decoder.load_state_dict(loaded.model.decoder.state_dict())
    content, style = torch.rand(1, 3, 27, 40), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        theirs = style_transfer(vgg, decoder, content, style)[..., :27, :40]
        assert rel(loaded.model(content, style), theirs) < TOL
