"""A folder laid out as the docs assume, with tiny files under the documented names.

The docs' commands run from the checkout's root next to ``../shared/data``; the workspace is a
``main/`` folder (links to the checkout's mains, scripts, configs and sources, a copy of the
docs) beside a ``shared/data`` of small synthetic photos, paintings and clips, so every command
runs as written, in seconds, with or without the real development data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from PIL import Image
from test_interop import examples_checkpoint

from fastnst.models import build_model
from fastnst.models.checkpoint import CHECKPOINT_KEY, PREFIX, checkpoint_entry

REPO = Path(__file__).resolve().parents[1]
LINKED = ("train.py", "stylize.py", "scripts", "configs", "src", "pyproject.toml")
PAINTINGS = (
    "starry_night", "great_wave", "the_scream", "udnie", "composition_vii", "the_kiss",
    "water_lilies", "la_grande_jatte", "wheat_field_with_cypresses", "mondrian_composition",
    "shipwreck_of_the_minotaur",
)  # fmt: skip
MULTI_STYLES = ["starry_night", "great_wave", "the_scream", "udnie"]


def write_image(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> Path:
    """A smooth random RGB image of ``size`` (W, H)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, 3, 3, generator=generator)
    image = torch.nn.functional.interpolate(low, size=size[::-1], mode="bilinear")[0]
    Image.fromarray((image.permute(1, 2, 0) * 255).round().byte().numpy()).save(path)
    return path


def write_clip(path: Path, frames: int = 4, size: tuple[int, int] = (32, 32)) -> Path:
    """A tiny H.264 clip whose content drifts sideways."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        x = torch.linspace(0, 6.0, size[0])
        for index in range(frames):
            row = (torch.sin(x + index * 0.4) + 1) / 2
            image = torch.stack([row.expand(size[1], -1)] * 3, dim=-1)
            array = (image * 255).round().byte().numpy()
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def save_checkpoint(path: Path, arch: str, styles: list[str], **model_args: object) -> Path:
    """A fastnst checkpoint of a freshly initialized ``arch`` network (seed 0)."""
    torch.manual_seed(0)
    model = build_model(arch, **model_args)
    state = {PREFIX + key: value for key, value in model.state_dict().items()}
    entry = checkpoint_entry(model, styles, {})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({CHECKPOINT_KEY: entry, "state_dict": state, "global_step": 0}, path)
    return path


def build_shared_data(data: Path) -> None:
    """``shared/data`` in miniature: the folders and file names the docs use."""
    for index, name in enumerate(("chicago", "tubingen")):
        write_image(data / "content" / f"{name}.jpg", index)
    for index, name in enumerate(PAINTINGS):
        write_image(data / "styles" / f"{name}.jpg", 10 + index)
    for index in range(4):
        write_image(data / "train_small" / f"photo_{index}.jpg", 30 + index)
        write_image(data / "styles_train" / f"painting_{index}.jpg", 40 + index)
    write_clip(data / "video" / "cutBunny.mp4")
    for index in range(3):
        write_image(data / "video" / "sintel_mountain_2" / f"frame_{index:04d}.png", 50)


def build_workspace(root: Path) -> Path:
    """``root/main`` (the working folder of the commands) beside ``root/shared/data``."""
    main = root / "main"
    main.mkdir(parents=True)
    for name in LINKED:
        (main / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "docs", main / "docs")
    shutil.copy(REPO / "mkdocs.yml", main / "mkdocs.yml")
    build_shared_data(root / "shared" / "data")
    for index, name in enumerate(("photo.jpg", "a.jpg", "b.jpg", "painting.jpg", "pano.jpg")):
        write_image(main / name, 60 + index)
    for index in range(2):
        write_image(main / "photos" / f"p{index}.jpg", 70 + index)
        write_image(main / "paintings" / f"q{index}.jpg", 80 + index)
    write_clip(main / "clip.mp4")
    save_checkpoint(main / "last.ckpt", "johnson", ["starry_night"], width=8)
    save_checkpoint(main / "multi.ckpt", "johnson", MULTI_STYLES, width=8,
                    num_styles=len(MULTI_STYLES), head="sigmoid")  # fmt: skip
    save_checkpoint(main / "adain.ckpt", "adain", ["arbitrary"])
    save_checkpoint(main / "predicted.ckpt", "johnson_predicted", ["arbitrary"])
    (main / "saved_models").mkdir()
    examples_checkpoint(main / "saved_models" / "candy.pth")
    models = main / "outputs" / "my_models"
    models.mkdir(parents=True)
    shutil.copy(main / "last.ckpt", models / "starry.ckpt")
    shutil.copy(main / "adain.ckpt", models / "adain.ckpt")
    return main
