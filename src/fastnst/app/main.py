"""The ``fastnst`` command (and ``python -m fastnst``): one front door to every tool.

    fastnst train style=starry_night trainer.max_steps=2000     # Hydra overrides, as train.py
    fastnst stylize model.ckpt "IMG 1 (copy).jpg" -o out.jpg    # plain paths: argparse
    fastnst stylize multi.ckpt photo.jpg -o mix.jpg --style starry_night=0.7,great_wave=0.3
    fastnst optimize content=photo.jpg output=out.png
    fastnst compare ckpt=last.ckpt content_dir=photos/
    fastnst ablate content=photo.jpg
    fastnst convert-magenta multistyle-pastiche-generator-monet.ckpt monet.ckpt

``stylize`` takes file names as plain arguments, so names with spaces, commas, ``=`` or
brackets need no Hydra quoting; the other commands take Hydra overrides (``--help`` lists the
config groups, ``--cfg job`` prints the composed config).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fastnst.version import __version__

HYDRA_COMMANDS = ("train", "optimize", "compare", "ablate")
USAGE = f"""usage: fastnst {{train,stylize,models,optimize,compare,ablate,demo}} [options]

fastnst {__version__}: fast neural style transfer.

commands:
  train      train a style network (Hydra overrides: style=great_wave trainer.max_steps=2000)
  stylize    stylize images, folders or videos, or export a model (plain paths; --help)
  models     published networks: list, fetch (fastnst stylize photo.jpg --model candy)
  optimize   Gatys et al. optimization of one image or a folder (Hydra overrides)
  compare    a trained network against the optimization solver (Hydra overrides)
  ablate     the solver under each loss variant, as a labelled grid (Hydra overrides)
  demo       a local web page to try the models of a folder (models=DIR; --help)
  convert-magenta  a Magenta multi-style .ckpt as a fastnst checkpoint (needs [magenta]; --help)

'fastnst COMMAND --help' describes a command."""


def stylize_parser() -> argparse.ArgumentParser:
    """``fastnst stylize``'s arguments: the options of ``stylize.py``, paths as plain words."""
    parser = argparse.ArgumentParser(
        prog="fastnst stylize",
        description="Stylize an image, a folder of images or a video, or export the network.",
    )
    parser.add_argument(
        "ckpt", help="train.py checkpoint, published file (.pth, .onnx, .t7) or catalogue name; "
        "with --model: the input",
    )  # fmt: skip
    parser.add_argument("input", nargs="?", help="image, folder (recursive) or video")
    parser.add_argument(
        "--model", help="checkpoint or catalogue name ('fastnst models'); then INPUT comes first"
    )
    parser.add_argument(
        "--accept-license", action="store_true", help="accept a no-commercial-use licence, once"
    )
    parser.add_argument("-o", "--output", required=True, help="output file or folder")
    parser.add_argument("--export", choices=["onnx", "torchscript"], help="write the model")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps, ...")
    parser.add_argument("--size", type=int, help="short side of the output, px")
    parser.add_argument("--max-size", type=int, help="cap on the long side of the output, px")
    parser.add_argument("--strength", type=float, default=1.0, help="0 = content, 1 = style")
    parser.add_argument("--preserve-color", choices=["luminance", "histogram"])
    parser.add_argument("--tile", type=int, help="tile side in px for huge images")
    parser.add_argument("--tile-overlap", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--backend", default="auto", choices=["auto", "torch", "onnxruntime", "compile"]
    )
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument(
        "--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
        help="reduced precision where a start-up probe finds it accurate and faster",
    )  # fmt: skip
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    parser.add_argument(
        "--style", action="append", metavar="NAME|NAME=W,...",
        help="multi-style networks: a style, or a blend starry_night=0.7,great_wave=0.3 "
        "(or --style starry_night=0.7 --style great_wave=0.3)",
    )  # fmt: skip
    parser.add_argument("--sheet", action="store_true", help="the image in every style, labelled")
    parser.add_argument(
        "--strip", nargs=2, metavar=("STYLE_A", "STYLE_B"), help="the image blended from A to B"
    )
    parser.add_argument("--strip-steps", type=int, default=5, help="columns of the strip")
    parser.add_argument(
        "--style-image", action="append", metavar="PAINTING",
        help="arbitrary-style networks (experiment=adain): the painting; repeat it to blend",
    )  # fmt: skip
    parser.add_argument(
        "--style-image-weights", type=float, nargs="+", metavar="W", help="one per --style-image"
    )
    parser.add_argument("--alpha", type=float, default=1.0, help="arbitrary-style: 0 to 1")
    parser.add_argument("--style-size", type=int, default=512, help="short side of paintings")
    parser.add_argument(
        "--flow-blend", type=float, metavar="WEIGHT",
        help="videos, folders of frames: blend in the previous output along the optical flow "
        "with this weight in (0, 1), e.g. 0.5 (less flicker)",
    )  # fmt: skip
    return parser


def stylize_command(argv: Sequence[str]) -> None:
    """Parse ``argv`` and run :func:`fastnst.inference.command.run` with one-line errors."""
    from fastnst.app.cli import exit_on_user_error, finish_stylize, quiet_progress_logging
    from fastnst.inference.blend import parse_style_words
    from fastnst.inference.command import run

    parser = stylize_parser()
    options = vars(parser.parse_args(argv))
    model = options.pop("model")
    if model is not None:  # fastnst stylize photo.jpg --model candy -o out.jpg
        if options["input"] is not None:
            parser.error(f"--model {model} names the network: pass one input, not two")
        options["ckpt"], options["input"] = model, options["ckpt"]

    @exit_on_user_error
    def go() -> None:
        options["style"] = parse_style_words(options["style"])
        with quiet_progress_logging():
            report = run(**options)
        finish_stylize(report)

    go()


def demo_command(argv: Sequence[str]) -> None:
    """``fastnst demo models=FOLDER`` (or ``--models FOLDER``): the local web page
    (:mod:`fastnst.demo`, an extra). ``key=value`` words are read as ``--key value``, so the
    demo takes options in the same form as the other commands."""
    from fastnst.demo.cli import main as demo_main

    demo_main([part for word in argv for part in _as_flag(word)])


def _as_flag(word: str) -> list[str]:
    """``models=runs/`` -> ``["--models", "runs/"]``; flags and plain words stay as they are."""
    key, sep, value = word.partition("=")
    if not sep or word.startswith("-") or not key.replace("_", "").isalnum():
        return [word]
    return [f"--{key.replace('_', '-')}", value]


def convert_magenta_command(argv: Sequence[str]) -> None:
    """``fastnst convert-magenta IN.ckpt OUT.ckpt``: :mod:`fastnst.models.interop.magenta`."""
    from fastnst.app.cli import exit_on_user_error

    parser = argparse.ArgumentParser(
        prog="fastnst convert-magenta",
        description="Convert Magenta's multi-style checkpoint (Monet, Varied) for johnson_cin.",
    )
    parser.add_argument("source", help="Magenta TensorFlow .ckpt (V1 file or V2 prefix)")
    parser.add_argument("output", help="fastnst checkpoint to write")
    parser.add_argument("--styles", help="comma-separated names (default style_00, style_01, ...)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    options = parser.parse_args(argv)

    @exit_on_user_error
    def go() -> None:
        from fastnst.models.interop.magenta import convert_magenta_checkpoint

        styles = options.styles.split(",") if options.styles else None
        path = convert_magenta_checkpoint(
            options.source, options.output, styles=styles, overwrite=options.overwrite
        )
        print(f"wrote {path}", file=sys.stderr)

    go()


def main(argv: Sequence[str] | None = None) -> None:
    """Dispatch ``fastnst COMMAND ...``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    if args[0] == "--version":
        print(__version__)
        return
    command, rest = args[0], args[1:]
    if command == "stylize":
        stylize_command(rest)
        return
    if command == "demo":
        demo_command(rest)
        return
    if command == "models":
        from fastnst.app.models_cmd import models_command

        models_command(rest)
        return
    if command == "convert-magenta":
        convert_magenta_command(rest)
        return
    if command not in HYDRA_COMMANDS:
        sys.exit(f"error: unknown command {command!r}; use one of train, stylize, models, demo, "
                 f"convert-magenta, {', '.join(HYDRA_COMMANDS[1:])} (fastnst --help)")  # fmt: skip
    from fastnst.app import commands

    sys.argv = [f"fastnst {command}", *rest]
    getattr(commands, f"{command}_main")()
