"""The inference rewrites of ``fastnst.models.fast_conv``, paired against the plain layers.

    python scripts/benchmark_fast_convs.py [--sizes 512 1080p] [--repeats 3] [--out ...json]

For Johnson's default network (random weights: they do not change the speed), times three
forms in round-robin on the same input, each on eager PyTorch and on ONNX Runtime: ``plain``
(the network as trained), ``blocked`` (the output layer blocked) and ``blocked+subpixel``
(also the sub-pixel upsampling: what exports and ``backend=torch`` on a CPU run).
Prints a Markdown table (best of ``--repeats`` calls, ms) and writes JSON.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

from fastnst.device import describe_device
from fastnst.inference import export as export_module
from fastnst.inference.runtime import OnnxModel
from fastnst.io.atomic import write_json
from fastnst.models import TransformerNet
from fastnst.models.fast_conv import with_fast_convs

SIZES = {"512": (512, 512), "1080p": (1080, 1920)}


def forms(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {
        "plain": model,
        "blocked": with_fast_convs(model, upsampling=False),
        "blocked+subpixel": with_fast_convs(model),
    }


def onnx_runner(network: torch.nn.Module, folder: Path, name: str) -> OnnxModel:
    """``network`` exported as it is (the export's own rewrite switched off for the pairing)."""
    path = folder / f"{name.replace('+', '_')}.onnx"
    original = export_module.with_fast_convs
    export_module.with_fast_convs = lambda model, **_: model
    try:
        export_module.export_model(network, path, "onnx", overwrite=True)
    finally:
        export_module.with_fast_convs = original
    return OnnxModel(path)


def best_ms(fn, x: torch.Tensor, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["512", "1080p"], choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks/fast_convs.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    model = TransformerNet().eval()
    with tempfile.TemporaryDirectory() as tmp:
        runners = {}
        for name, network in forms(model).items():
            runners[("torch", name)] = network
            runners[("onnxruntime", name)] = onnx_runner(copy.deepcopy(network), Path(tmp), name)
        rows = []
        for size in args.sizes:
            x = torch.rand(1, 3, *SIZES[size])
            with torch.no_grad():
                for runner in runners.values():
                    runner(x)  # warm-up
                times = {key: [] for key in runners}
                for _ in range(args.repeats):  # round-robin: load hits every form alike
                    for key, runner in runners.items():
                        times[key] += best_ms(runner, x, 1)
            for (runtime, name), measured in times.items():
                base = min(times[(runtime, "plain")])
                rows.append({"size": size, "runtime": runtime, "form": name,
                             "ms": min(measured), "vs_plain": base / min(measured)})  # fmt: skip
    print("| size | runtime | form | ms | speed-up over plain |")
    print("|---|---|---|---:|---:|")
    for row in rows:
        print(f"| {row['size']} | {row['runtime']} | {row['form']} | {row['ms']:.0f} | "
              f"{row['vs_plain']:.2f}x |")  # fmt: skip
    write_json(args.out, {"machine": describe_device(torch.device("cpu")), "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
