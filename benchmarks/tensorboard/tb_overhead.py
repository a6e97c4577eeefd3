"""Cost of TensorBoard logging on the fused path: one group of 12 replicas.

    .venv/bin/python benchmarks/tensorboard/tb_overhead.py > benchmarks/tensorboard/tb_overhead.txt

Trains the same group (MNIST-shaped synthetic data, 12 replicas, batch 32)
with TensorBoard off and on (off first in even repeats, on first in odd ones), and reports the group's wall time
and, with it on, the time spent inside the TensorBoard observer itself (its
writers' creation, the per-epoch scalars and flushes): the latter is what
logging costs, independent of what else runs on the machine.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lenet_bench import train  # noqa: E402
from lenet_bench.inputs import data
from lenet_bench.config import ExperimentConfig  # noqa: E402
from lenet_bench.observers.tensorboard_logging import TensorBoardLogger  # noqa: E402

EPOCHS, REPEATS = 2, 3


class TimedLogger(TensorBoardLogger):
    """Adds up the seconds spent in each hook."""
    seconds = {}

    def _timed(self, name, *args):
        started = time.perf_counter()
        getattr(super(), name)(*args)
        TimedLogger.seconds[name] = TimedLogger.seconds.get(name, 0.0) + time.perf_counter() - started

    def group_begin(self, *args):
        self._timed("group_begin", *args)

    def run_epoch_end(self, *args):
        self._timed("run_epoch_end", *args)

    def group_epoch_end(self, *args):
        self._timed("group_epoch_end", *args)

    def group_end(self, *args):
        self._timed("group_end", *args)


def main():
    dataset = data.make_synthetic(num_train=2000, num_test=1000)
    config = ExperimentConfig(name="tb", dataset="synthetic", epochs=EPOCHS, batch_size=32,
                              seeds=1, grid={"learning_rate": (0.01, 0.005, 0.003, 0.002),
                                             "lr_decay": (0.9, 0.95, 0.99)})
    specs = train.run_specs(config)
    print(f"{len(specs)} replicas in one fused group, {EPOCHS} epochs, 2,000 train and 1,000 "
          "test images (synthetic, 28x28x1), batch 32")
    train.train_group(specs, dataset, None, trainer="fused")  # Warm-up (tracing).
    for repeat in range(REPEATS):
        for tensorboard in ((False, True) if repeat % 2 == 0 else (True, False)):
            with tempfile.TemporaryDirectory() as folder:
                observers = []
                if tensorboard:
                    TimedLogger.seconds = {}
                    observers = [TimedLogger(Path(folder) / "tb", specs, config.grid)]
                    observers[0].write_experiment_config()
                started = time.perf_counter()
                train.train_group(specs, dataset, Path(folder), trainer="fused",
                                  observers=observers)
                seconds = time.perf_counter() - started
                inside = ""
                if tensorboard:
                    spent = TimedLogger.seconds
                    total = sum(spent.values())
                    per_epoch = spent["run_epoch_end"] + spent["group_epoch_end"]
                    inside = (f"; inside the TensorBoard observer {total:.3f} s "
                              f"({100 * total / seconds:.2f}%): opening 12 writers "
                              f"{spent['group_begin']:.3f} s, per-epoch scalars and flushes "
                              f"{per_epoch / EPOCHS:.4f} s per epoch, closing "
                              f"{spent['group_end']:.3f} s")
                print(f"repeat {repeat}: tensorboard {'on ' if tensorboard else 'off'}: "
                      f"group {seconds:.2f} s{inside}", flush=True)


if __name__ == "__main__":
    main()
