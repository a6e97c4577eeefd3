"""TensorBoard logs of a study: per-epoch scalars and the HParams dashboard.

Layout, for `tensorboard --logdir <workdir>/<experiment>/tb` (or the
workdir, to see every experiment):

    tb/                 the HParams experiment config: the hparams (the grid
                        fields and the seed, with their domains) and metrics
    tb/<run_key>/       per run: its hparams values, then per epoch (step =
                        epoch, from 1) train/loss, train/accuracy,
                        train/clean_accuracy (label-noise runs), test/loss,
                        test/accuracy, best/test_accuracy (best so far) and
                        learning_rate

The HParams dashboard's metrics are the last values of test/accuracy (the
final-epoch test accuracy), best/test_accuracy and test/loss. One writer per
run (per replica on the fused path), written at each epoch end from
`trainers.group_loop.train_group` and flushed then, so TensorBoard shows a study while it
trains. Each writer is a plain file written synchronously with
TensorBoard's own record framing (`RecordWriter`), holding the summary
protos built here (the same scalar and HParams summaries `tf.summary`
writes): no TensorFlow op and no writer thread per run (TensorBoard's
`EventFileWriter` starts one). Measured in benchmarks/tensorboard/.

Reruns and resume: the experiment config is rewritten (its old event file
replaced) on every invocation. A run that starts from epoch 0 first deletes
the event files of an earlier unfinished attempt; a run resumed from its
group's checkpoint after epoch k keeps its old event file and adds a new one
from step k + 1. An epoch logged but not checkpointed before a kill is
trained and logged again, so that step can appear twice (with the same
values on CPU, where reruns are bit-identical).
"""

import itertools
import os
import socket
import time
from pathlib import Path

from tensorboard.compat.proto import (event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2,
                                      types_pb2)
# summary_v2, not hparams.api: the api module imports its Keras callback, which imports TensorFlow.
from tensorboard.plugins.hparams import summary_v2 as hp
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter

from lenet_bench.config import DEFAULT_LABEL_FIELDS
from lenet_bench.observers.hooks import Observer

TB_FOLDER = "tb"
SCALARS = {"train/loss": "train_loss", "train/accuracy": "train_accuracy",
           "train/clean_accuracy": "train_clean_accuracy", "test/loss": "test_loss",
           "test/accuracy": "test_accuracy", "learning_rate": "learning_rate"}
METRICS = (("test/accuracy", "final test accuracy"),
           ("best/test_accuracy", "best-epoch test accuracy"),
           ("test/loss", "final test loss"),
           ("train/accuracy", "final train accuracy"))
EVENT_FILES = "events.out.tfevents.*"
_FILE_NUMBERS = itertools.count()


class EventWriter:
    """One event file, written synchronously: `add` appends a record, `flush` hands it
    to the OS. Named like TensorFlow's (`events.out.tfevents.<time>.<host>.<pid>.<n>`),
    so TensorBoard finds it and a later writer in the same folder adds a new file."""

    def __init__(self, folder: Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / (f"events.out.tfevents.{int(time.time()):010d}."
                              f"{socket.gethostname()}.{os.getpid()}.{next(_FILE_NUMBERS)}")
        self.file = open(self.path, "wb")
        self.records = RecordWriter(self.file)
        self.add_event(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add_event(self, event: event_pb2.Event) -> None:
        self.records.write(event.SerializeToString())

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def hparam_fields(grid: dict, specs: list) -> tuple[str, ...]:
    """The grid's fields (those that are run fields), else the fields that vary
    between the runs, else a default set; then the seed."""
    names = set(vars(specs[0])) if specs else set()
    fields = tuple(field for field in grid if field in names)
    if not fields:
        fields = tuple(sorted(field for field in names - {"seed"}
                              if len({repr(getattr(spec, field)) for spec in specs}) > 1))
    return (fields or DEFAULT_LABEL_FIELDS) + ("seed",)


def hparam_value(value):
    """A run field's value as the HParams plugin takes it: bool, int, float or str."""
    if isinstance(value, (bool, int, float, str)):
        return value
    return "none" if value is None else str(value)


def make_hparams(fields: tuple[str, ...], specs: list) -> dict[str, hp.HParam]:
    """field -> HParam with a Discrete domain of the values the runs take."""
    hparams = {}
    for field in fields:
        values = sorted({hparam_value(getattr(spec, field)) for spec in specs}, key=repr)
        kinds = {float if type(value) is int else type(value) for value in values}
        if kinds == {float}:
            values = [float(value) for value in values]
            if all(type(getattr(spec, field)) is int for spec in specs):
                values = [int(value) for value in values]
        elif len(kinds) > 1:
            values = sorted({str(value) for value in values})
        hparams[field] = hp.HParam(field, hp.Discrete(values))
    return hparams


def scalar_value(tag: str, value: float) -> summary_pb2.Summary.Value:
    """A scalar summary value as `tf.summary.scalar` writes it (a float32 tensor
    with the scalars plugin's metadata)."""
    return summary_pb2.Summary.Value(
        tag=tag, metadata=scalar_metadata.create_summary_metadata(display_name="",
                                                                  description=""),
        tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[value],
                                      tensor_shape=tensor_shape_pb2.TensorShapeProto()))


def write_summary(writer: EventWriter, summary: summary_pb2.Summary, step: int) -> None:
    writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))


def remove_event_files(folder: Path) -> None:
    """Deletes the event files directly in `folder` (not in its subfolders)."""
    for path in Path(folder).glob(EVENT_FILES):
        path.unlink(missing_ok=True)


class TensorBoardLogger(Observer):
    """Writes an experiment's TensorBoard logs (see the module docstring).

    Args:
      log_dir: `<workdir>/<experiment>/tb`.
      specs: every run of the experiment (the hparam domains come from them).
      grid: the experiment's grid (field -> values); its fields are the hparams.
    """

    def __init__(self, log_dir: Path, specs: list, grid: dict):
        self.log_dir = Path(log_dir)
        self.fields = hparam_fields(grid, specs)
        self.hparams = make_hparams(self.fields, specs)
        self.writers: dict[int, EventWriter] = {}

    def write_experiment_config(self) -> None:
        """The HParams experiment config, in `log_dir` (replacing an older one)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        remove_event_files(self.log_dir)
        writer = EventWriter(self.log_dir)
        write_summary(writer, hp.hparams_config_pb(
            hparams=list(self.hparams.values()),
            metrics=[hp.Metric(tag, display_name=name) for tag, name in METRICS]), step=0)
        writer.close()

    def run_hparams(self, spec) -> dict:
        return {self.hparams[field]: self.hparams[field].domain.dtype(
            hparam_value(getattr(spec, field))) for field in self.fields}

    def group_begin(self, specs, records, first_epoch, active, model, weights):
        self.close()
        for index in active:
            run_dir = self.log_dir / specs[index].key
            if first_epoch == 0:
                remove_event_files(run_dir)
            self.writers[index] = EventWriter(run_dir)
            write_summary(self.writers[index], hp.hparams_pb(self.run_hparams(specs[index]),
                                                             trial_id=specs[index].key), step=0)

    def run_epoch_end(self, index, spec, record):
        writer = self.writers.get(index)
        if writer is None:
            return
        history, values = record["history"], []
        for tag, metric in SCALARS.items():
            value = history[metric][-1] if history.get(metric) else None
            if value is not None and (metric != "train_clean_accuracy" or spec.label_noise):
                values.append(scalar_value(tag, value))
        if record["best_test_accuracy"] is not None:
            values.append(scalar_value("best/test_accuracy", record["best_test_accuracy"]))
        write_summary(writer, summary_pb2.Summary(value=values), step=record["epochs_done"])

    def group_epoch_end(self, epochs_done, epochs):
        for writer in self.writers.values():
            writer.flush()

    def group_end(self, records):
        self.close()

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
