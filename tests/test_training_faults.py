"""Faults during training (fastnst.training.faults): real signals to a real ``python train.py``,
a SIGKILL in the middle of a checkpoint write, a full disk, a NaN loss. Each ends in one line,
loses at most the current step, and leaves every checkpoint on disk loadable."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from conftest import REPO

from fastnst.app.cli import exit_on_user_error
from fastnst.app.train import train
from fastnst.errors import FastNSTError
from fastnst.models.checkpoint import load_style_checkpoint
from fastnst.training.faults import AtomicCheckpointIO, GracefulStop
from fastnst.training.module import StyleTransferModule

QUIET = [
    "~logger", "~callbacks.lr_monitor", "trainer.limit_val_batches=0",
    "trainer.num_sanity_val_steps=0", "samples.every_n_steps=1000",
    "callbacks.model_checkpoint.every_n_train_steps=2", "+trainer.enable_progress_bar=false",
]  # fmt: skip
CHILD = '''
import io, os, sys, time
from pathlib import Path
import torch
from fastnst.app.commands import train_main

real_save, writes = torch.save, []

def half_then_hang(obj, f, *args, **kwargs):
    """The second write of last.ckpt (to whatever file the writer opens) stops half-way."""
    name = Path(str(getattr(f, "name", f))).name
    if "last" in name:
        writes.append(name)
    if len(writes) < 2 or "last" not in name:
        return real_save(obj, f, *args, **kwargs)
    buffer = io.BytesIO()
    real_save(obj, buffer, *args, **kwargs)
    out = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
    out.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    out.flush()
    print("HALF WRITTEN", name, flush=True)
    time.sleep(600)

torch.save = half_then_hang
train_main()
'''


def overrides(run: Path, images: Path, painting: Path, *extra: str) -> list[str]:
    """conftest.make_cfg's shrunken run as command-line overrides, quiet, for a subprocess."""
    return [
        "trainer=cpu", "data=folder", f"data.root={images}", "data.image_size=32",
        "data.batch_size=2", "data.num_workers=0", "data.val_images=2", f"style.image={painting}",
        "style.size=64", "vgg.weights=random", f"paths.output_dir={run}",
        f"paths.cache_dir={run.parent / 'cache'}", f"hydra.run.dir={run.parent / 'hydra'}",
        "+trainer.enable_model_summary=false", "trainer.max_steps=100000", *QUIET, *extra,
    ]  # fmt: skip


@pytest.fixture
def launch(tmp_path: Path, image_folder: Path, style_image: Path) -> Iterator[Callable[..., Any]]:
    """Start ``script`` (train.py) with the tiny run's overrides in its own process group."""
    started: list[subprocess.Popen] = []

    def start(*extra: str, script: str = str(REPO / "train.py")) -> subprocess.Popen:
        args = overrides(tmp_path / "run", image_folder, style_image, *extra)
        with open(tmp_path / "stdout.txt", "wb") as out, open(tmp_path / "stderr.txt", "wb") as err:
            process = subprocess.Popen(
                [sys.executable, script, *args], cwd=tmp_path, start_new_session=True,
                stdout=out, stderr=err, env={**os.environ, "OMP_NUM_THREADS": "1"},
            )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(process: subprocess.Popen, ready: Callable[[], bool], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert process.poll() is None, f"train.py ended early with status {process.returncode}"
        assert time.monotonic() < deadline, "train.py made no progress"
        time.sleep(0.1)


def count_steps(monkeypatch: pytest.MonkeyPatch, poison_at: int | None = None) -> list[Any]:
    """Record the module of every training step; the loss of step ``poison_at`` becomes NaN."""
    modules: list[Any] = []
    original = StyleTransferModule.training_step

    def step(self: StyleTransferModule, batch: Any, batch_idx: int) -> torch.Tensor | None:
        modules.append(self)
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if self.global_step + 1 == poison_at else loss

    monkeypatch.setattr(StyleTransferModule, "training_step", step)
    return modules


@pytest.mark.parametrize(
    ("number", "workers"),
    [(signal.SIGTERM, 0), (signal.SIGINT, 2)],  # Ctrl-C reaches the DataLoader workers too
)
def test_signal_saves_the_current_step_and_resume_continues_there(
    number: signal.Signals, workers: int, launch, make_cfg, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    checkpoints = tmp_path / "run" / "checkpoints"
    process = launch(f"data.num_workers={workers}")
    wait_for(process, (checkpoints / "step000002.ckpt").is_file)
    os.killpg(process.pid, number)  # the whole process group, as a terminal's Ctrl-C
    assert process.wait(timeout=120) == 1
    stderr = (tmp_path / "stderr.txt").read_text()
    interrupted = checkpoints / "interrupted.ckpt"
    step = load_style_checkpoint(interrupted).global_step
    assert step >= 2
    assert stderr.strip().splitlines()[-1] == (
        f"error: stopped by {number.name} at step {step}: saved {interrupted}; "
        f"continue with ckpt_path={interrupted}"
    )
    assert "Traceback" not in stderr + (tmp_path / "stdout.txt").read_text()
    steps = count_steps(monkeypatch)
    train(make_cfg(f"ckpt_path={interrupted}", f"trainer.max_steps={step + 3}", *QUIET))
    assert len(steps) == 3  # resumed at `step`, not from scratch
    assert load_style_checkpoint(checkpoints / "last.ckpt").global_step == step + 3


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one_loadable(
    launch, make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    process = launch(script=str(script))
    wait_for(process, lambda: "HALF WRITTEN" in (tmp_path / "stdout.txt").read_text())
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL
    checkpoints = tmp_path / "run" / "checkpoints"
    assert list(checkpoints.glob(".last.*.tmp.ckpt"))  # the kill came mid-write
    assert load_style_checkpoint(checkpoints / "last.ckpt").global_step == 2
    steps = count_steps(monkeypatch)
    train(make_cfg(f"ckpt_path={checkpoints / 'last.ckpt'}", "trainer.max_steps=5", *QUIET))
    assert len(steps) == 3
    # periodic at 4, then LastAtEnd at 5 (Lightning alone would leave last.ckpt at step 4)
    assert load_style_checkpoint(checkpoints / "last.ckpt").global_step == 5


def test_a_full_disk_stops_in_one_line_and_keeps_the_last_checkpoint(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save

    def full_disk(obj: dict[str, Any], file: Any, *args: Any, **kwargs: Any) -> None:
        if obj["global_step"] < 4:
            return real_save(obj, file, *args, **kwargs)
        file.write(b"PK\x03\x04 part of a zip")
        try:  # what torch.save does when the disk fills: a RuntimeError raised over the OSError
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos") from None

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(SystemExit) as stopped:
        exit_on_user_error(train)(make_cfg("trainer.max_steps=6", *QUIET))
    checkpoints = tmp_path / "run" / "checkpoints"
    last = checkpoints / "last.ckpt"
    assert stopped.value.code == (
        f"error: cannot write checkpoint {checkpoints / 'step000004.ckpt'}: no space left on "
        f"device; training stopped, last good checkpoint {last} (step 2), intact: continue "
        f"with ckpt_path={last} once the disk has room (or with paths.output_dir= elsewhere)"
    )
    assert load_style_checkpoint(last).global_step == 2
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt", "step000002.ckpt"]


def test_a_nan_loss_stops_before_the_weights_change(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda number, frame: received.append(number))
    try:
        steps = count_steps(monkeypatch, poison_at=3)
        with pytest.raises(SystemExit) as stopped:
            exit_on_user_error(train)(make_cfg("trainer.max_steps=6", *QUIET))
        os.kill(os.getpid(), signal.SIGTERM)  # after fit, the handler we set earlier answers
        assert received == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert stopped.value.code == (
        "error: non-finite training loss at step 3 (the loss is nan): training stopped before "
        f"the weights changed; last good checkpoint {last} (step 2), intact: continue with "
        f"ckpt_path={last}, with a lower optim.lr or trainer.gradient_clip_val=1.0"
    )
    saved = torch.load(last, weights_only=True)["state_dict"]
    weights = steps[-1].state_dict()
    assert len(steps) == 3
    for name, value in saved.items():  # step 3 changed nothing
        assert torch.equal(weights[name], value), name
        assert torch.isfinite(value).all(), name


def test_a_second_signal_stops_at_once_and_workers_ignore_signals(tmp_path: Path) -> None:
    io = AtomicCheckpointIO()
    io.last_saved = (tmp_path / "last.ckpt", 7)
    trainer = SimpleNamespace(strategy=SimpleNamespace(checkpoint_io=io), ckpt_path=None)
    stop = GracefulStop(tmp_path)
    stop.fitting, stop.trainer = True, trainer
    stop.pid = os.getpid() + 1  # as seen from a forked DataLoader worker: ignored
    stop.handle(signal.SIGINT, None)
    assert stop.received is None
    stop.pid = os.getpid()
    stop.handle(signal.SIGTERM, None)
    assert stop.received == "SIGTERM"
    with pytest.raises(FastNSTError) as stopped:
        stop.handle(signal.SIGINT, None)
    assert str(stopped.value) == (
        f"stopped at once by a second SIGINT, interrupted.ckpt not written; last good "
        f"checkpoint {tmp_path / 'last.ckpt'} (step 7), intact: continue with "
        f"ckpt_path={tmp_path / 'last.ckpt'}"
    )


@pytest.mark.slow  # a real small filesystem: root only (mount), about 30 s
def test_a_really_full_disk_stops_in_one_line(launch, tmp_path: Path) -> None:
    disk = tmp_path / "run"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(disk)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a 30 MB tmpfs here (needs root)")
    try:  # a checkpoint is 20 MB: the second write cannot fit
        process = launch("trainer.max_steps=100")
        assert process.wait(timeout=600) == 1
        checkpoints = disk / "checkpoints"
        last_line = (tmp_path / "stderr.txt").read_text().strip().splitlines()[-1]
        assert last_line.startswith(f"error: cannot write checkpoint {checkpoints}")
        assert "no space left on device" in last_line
        kept = last_line.split("last good checkpoint ")[1].split(" (step")[0]
        assert load_style_checkpoint(kept).global_step == 2
        assert not list(checkpoints.glob(".*.tmp.ckpt"))
    finally:
        subprocess.run(["umount", str(disk)], check=True)
