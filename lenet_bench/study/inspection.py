"""Looking inside finished runs' models, and the out-of-distribution test.

Both need the models, and the report never loads one, so `experiment.run_experiment`
calls them at its end and leaves plain arrays beside the runs:

- `write_model_internals`: `model_internals.npz` with the kernels of every
  layer at initialization (rebuilt from the run's seed with
  `models.build_run_model`) and after training (the run's best-epoch weights,
  `<key>.weights.h5`), the first-layer kernels, and both conv layers' feature
  maps for a few test images; for the best grid point's median run and, when
  the runs differ in initializer, one such run per initializer.
- `evaluate_ood`: feeds the test set (in-distribution) and another dataset's
  test set (out-of-distribution) to each finished run's best-epoch model and
  stores the max-softmax metrics of `analysis.ood_metrics` in its run JSON
  under 'ood'.
"""

import json
import logging
from pathlib import Path

import keras
import numpy as np

from lenet_bench import runs
from lenet_bench.artifacts import LAYER_NAMES
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_json, atomic_write_npz
from lenet_bench.inputs import data
from lenet_bench.networks import inference, models
from lenet_bench.records import analysis
from lenet_bench.study.plan import check_ood_dataset

logger = logging.getLogger("lenet_bench")

# Larger kernels are stored as this many weights drawn at random (the same ones
# before and after training), which keeps the file small and the histogram's shape.
MAX_STORED_WEIGHTS = 10_000
FEATURE_MAP_IMAGES = 4
PREDICT_BATCH_SIZE = 1000


def build_model(spec: dict, dataset: data.Dataset) -> keras.Model:
    """The run's model with its initial weights (the same seed gives the same weights),
    built as training built it (models.build_run_model); fields a run JSON predates
    take their RunSpec defaults."""
    return models.build_run_model(runs.spec_from_record(spec), dataset)


def trained_model(run: dict, runs_dir: Path, dataset: data.Dataset) -> keras.Model | None:
    """The run's model with its best-epoch weights, or None when they were not kept."""
    path = Path(runs_dir) / f"{run['key']}.weights.h5"
    if not path.is_file():
        return None
    model = build_model(run["spec"], dataset)
    model.load_weights(path)
    return model


def internals_runs(runs: list[dict], rank_by: str = "final") -> list[tuple[str, dict]]:
    """(label, run) pairs to look inside: the best grid point's median run, then, when
    the runs differ in initializer, each other initializer's best point's median run."""
    chosen = []
    median = analysis.best_worst_median(analysis.best_point_runs(runs), rank_by).get("median")
    if median is not None:
        chosen.append(("best point, median run", median))
    initializers = list(dict.fromkeys(run["spec"]["initializer"] for run in runs))
    if len(initializers) > 1:
        for initializer in initializers:
            members = [run for run in runs if run["spec"]["initializer"] == initializer]
            run = analysis.best_worst_median(analysis.best_point_runs(members),
                                             rank_by).get("median")
            if run is not None and all(run["key"] != other["key"] for _, other in chosen):
                chosen.append((f"{initializer}: its best point, median run", run))
    return chosen


def feature_image_indices(labels: np.ndarray, count: int = FEATURE_MAP_IMAGES) -> np.ndarray:
    """The first test image of each of the first `count` classes present."""
    labels = np.asarray(labels)
    return np.array([int(np.flatnonzero(labels == label)[0])
                     for label in np.unique(labels)[:count]])


def write_model_internals(path: Path, runs: list[dict], runs_dir: Path, dataset: data.Dataset,
                          rank_by: str = "final") -> bool:
    """Writes `path` (.npz) for the runs `internals_runs` picks that kept their weights.

    Keys, for run i (0 is the best point's median run): 'i/LAYER/initial' and
    'i/LAYER/trained' (the layer's kernel flattened, float16, at most
    MAX_STORED_WEIGHTS of them), 'i/conv1_kernel/initial' and '.../trained'
    (5, 5, C, 6); for run 0 only 'feature_images' (uint8), 'feature_labels',
    'feature_maps/conv1' and 'feature_maps/conv2' (after the activation,
    float16); 'runs' is a JSON list of what each run is. An existing file for
    the same runs is kept. Returns False when no picked run kept its weights.
    """
    path = Path(path)
    chosen = [(label, run) for label, run in internals_runs(runs, rank_by)
              if (Path(runs_dir) / f"{run['key']}.weights.h5").is_file()]
    if not chosen:
        return False
    described = [{"label": label, "key": run["key"], "seed": run["spec"]["seed"],
                  "initializer": run["spec"]["initializer"],
                  "learning_rate": run["spec"]["learning_rate"],
                  "best_epoch": run["best_epoch"],
                  "best_test_accuracy": run["best_test_accuracy"],
                  "final_test_accuracy": float(analysis.final_accuracy(run))}
                 for label, run in chosen]
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                if json.loads(str(stored["runs"])) == described:
                    return True
        except (OSError, ValueError, KeyError, EOFError):
            pass
    arrays = {"runs": np.array(json.dumps(described))}
    for index, (_, run) in enumerate(chosen):
        initial = build_model(run["spec"], dataset)
        trained = trained_model(run, runs_dir, dataset)
        present = {layer.name for layer in trained.layers}
        for name in [name for name in LAYER_NAMES if name in present]:  # An MLP has no conv.
            before = keras.ops.convert_to_numpy(initial.get_layer(name).kernel)
            after = keras.ops.convert_to_numpy(trained.get_layer(name).kernel)
            keep = np.arange(before.size)
            if before.size > MAX_STORED_WEIGHTS:
                keep = np.sort(np.random.default_rng(0).choice(before.size, MAX_STORED_WEIGHTS,
                                                               replace=False))
            arrays[f"{index}/{name}/initial"] = before.ravel()[keep].astype(np.float16)
            arrays[f"{index}/{name}/trained"] = after.ravel()[keep].astype(np.float16)
            arrays[f"{index}/{name}/size"] = np.int64(before.size)
            if name == "conv1":
                arrays[f"{index}/conv1_kernel/initial"] = before
                arrays[f"{index}/conv1_kernel/trained"] = after
        if index == 0 and {"conv1", "conv2"} <= present:
            indices = feature_image_indices(dataset.test_labels)
            images = dataset.test_images[indices]
            # After the activation: its own layer where batch norm sits between (conv1_act).
            outputs = [trained.get_layer(f"{name}_act" if f"{name}_act" in present else name).output
                       for name in ("conv1", "conv2")]
            probe = keras.Model(trained.inputs, outputs)
            conv1, conv2 = inference.predict(probe, images)
            arrays.update({"feature_images": images, "feature_labels": dataset.test_labels[indices],
                           "feature_maps/conv1": np.asarray(conv1, dtype=np.float16),
                           "feature_maps/conv2": np.asarray(conv2, dtype=np.float16)})
    atomic_write_npz(path, compressed=True, **arrays)
    logger.info("model internals of %d runs: %s", len(chosen), path)
    return True


def write_test_labels(path: Path, labels: np.ndarray) -> None:
    """The test labels, so the report can score saved predictions without the dataset."""
    atomic_write_npz(path, compressed=True, labels=np.asarray(labels, dtype=np.int64))


def max_confidence(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The max softmax probability of each (uint8) image, in inference mode (eager: one
    call per batch of PREDICT_BATCH_SIZE, so nothing is traced per model)."""
    return np.concatenate([
        inference.predict(model, images[start:start + PREDICT_BATCH_SIZE]).max(axis=-1)
        for start in range(0, len(images), PREDICT_BATCH_SIZE)])


def evaluate_ood(runs: list[dict], runs_dir: Path, dataset: data.Dataset,
                 ood_dataset: data.Dataset) -> int:
    """Adds 'ood' (see analysis.ood_metrics) to each finished run's record that has none for
    `ood_dataset` yet and rewrites its JSON; returns how many were evaluated.

    The model is the run's best-epoch one (`<key>.weights.h5`); runs without it are
    skipped with a warning.
    """
    check_ood_dataset(dataset, ood_dataset)
    evaluated = 0
    for run in runs:
        if run["status"] != "done" or (run.get("ood") or {}).get("dataset") == ood_dataset.name:
            continue
        model = trained_model(run, runs_dir, dataset)
        if model is None:
            logger.warning("%s: no best-epoch weights, so no OOD test", run["key"])
            continue
        run["ood"] = {"dataset": ood_dataset.name, "in_dataset": dataset.name,
                      "weights": f"best epoch ({run['best_epoch']})",
                      **analysis.ood_metrics(max_confidence(model, dataset.test_images),
                                             max_confidence(model, ood_dataset.test_images))}
        atomic_write_json(Path(runs_dir) / f"{run['key']}.json", run)
        logger.info("%s: OOD %s AUROC %.4f, %.1f%% of OOD images with confidence > %g",
                    run["key"], ood_dataset.name, run["ood"]["auroc"],
                    100 * run["ood"]["ood_confident_fraction"], run["ood"]["threshold"])
        evaluated += 1
    return evaluated
