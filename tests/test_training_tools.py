"""Wall-clock checkpoints and the precision probe of experiment=cpu."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from fastnst.training import callbacks, speed
from fastnst.training.callbacks import ElapsedCheckpoints


class FakeTrainer:
    def __init__(self) -> None:
        self.saved: list[tuple[str, int]] = []
        self.global_step = 0
        self.should_stop = False

    def save_checkpoint(self, path: Path) -> None:
        self.saved.append((path.name, self.global_step))


def test_checkpoints_at_each_mark_then_stop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = SimpleNamespace(now=0.0)
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: clock.now)
    trainer, marks = FakeTrainer(), ElapsedCheckpoints([2, 0.5], tmp_path)
    marks.on_fit_start(trainer, None)
    for step, seconds in enumerate([10, 29, 31, 100, 119, 121, 200], start=1):
        clock.now, trainer.global_step = seconds, step
        marks.on_train_batch_end(trainer, None, None, None, step)
        if trainer.should_stop:
            break
    assert trainer.saved == [("min0.5.ckpt", 3), ("min2.ckpt", 6)]
    assert trainer.should_stop and trainer.global_step == 6


@pytest.mark.parametrize(("ratio", "expected"), [(2.0, "bf16-mixed"), (1.05, "32-true"),
                                                  (0.03, "32-true")])  # fmt: skip
def test_auto_precision_follows_the_measurement(
    monkeypatch: pytest.MonkeyPatch, ratio: float, expected: str
) -> None:
    monkeypatch.setattr(speed, "bf16_speedup", lambda device: ratio)
    assert speed.auto_precision("cpu") == expected


def test_bf16_probe_measures_a_positive_ratio() -> None:
    assert speed.bf16_speedup(speed.torch.device("cpu"), channels=8, size=16, repeats=1) > 0
