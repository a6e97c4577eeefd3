"""Soft metrics, best/worst/median runs, classification report, model internals, OOD test."""

import dataclasses
import json

import numpy as np
import pytest

from lenet_bench import artifacts, runs
from lenet_bench.config import ExperimentConfig, validate
from lenet_bench.errors import InputError
from lenet_bench.files import atomic_write_npz
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.study import inspection
from lenet_bench.records import analysis
from lenet_bench.reports import companion_report, report
from lenet_bench.study import experiment
from lenet_bench.trainers import fused_tf, group_loop, keras_replicas

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.5, 0.3, 0.2]])
LABELS = np.array([0, 1, 1])


def test_soft_accuracy_and_confusion_by_hand():
    assert analysis.soft_accuracy(PROBABILITIES, LABELS) == pytest.approx((0.7 + 0.8 + 0.3) / 3)
    expected = np.array([[0.7, 0.2, 0.1], [0.3, 0.55, 0.15], [0, 0, 0]])  # class 2: no image
    np.testing.assert_allclose(analysis.soft_confusion(PROBABILITIES, LABELS, 3), expected)
    sums = np.array([[0.7, 0.2, 0.1], [0.6, 1.1, 0.3], [0, 0, 0]])  # one_hot^T @ probabilities
    np.testing.assert_allclose(analysis.soft_confusion_from_sums(sums), expected)


def numpy_reference(probabilities, labels):
    return (analysis.soft_accuracy(probabilities, labels),
            analysis.soft_confusion(probabilities, labels, 10))


def test_both_trainers_soft_metrics_match_numpy():
    # 1,200 test images: two evaluation batches, the second one partial.
    dataset = data.make_synthetic(num_train=64, num_test=1200, seed=3)
    weights = [models.build_lenet5(dataset.image_shape, 10, initializer=name, seed=seed).get_weights()
               for name, seed in (("glorot_uniform", 0), ("he_normal", 1))]
    group = fused_tf.FusedLeNet5(weights, dataset.image_shape, 10)
    fused_result = group.evaluate(dataset.test_images, dataset.test_labels)
    probabilities = group.predict(dataset.test_images)
    specs = [runs.RunSpec(dataset="synthetic", initializer=name, epochs=1, seed=seed)
             for name, seed in (("glorot_uniform", 0), ("he_normal", 1))]
    keras_result = keras_replicas.KerasReplicas(weights, specs, dataset, jit_compile=False).evaluate(
        dataset.test_images, dataset.test_labels)
    for replica, replica_weights in enumerate(weights):
        model = models.build_lenet5(dataset.image_shape, 10)
        model.set_weights(replica_weights)
        keras_probabilities = model.predict(dataset.test_images / 255.0, verbose=0)
        np.testing.assert_allclose(probabilities[replica], keras_probabilities, atol=1e-5)
        accuracy, confusion = numpy_reference(keras_probabilities, dataset.test_labels)
        assert 0.05 < accuracy < 0.5  # untrained: a real spread, not one-hot
        for result in (fused_result, keras_result):
            assert result["soft_accuracy"][replica] == pytest.approx(accuracy, rel=1e-5)
            np.testing.assert_allclose(
                analysis.soft_confusion_from_sums(result["soft_confusion_sums"][replica]),
                confusion, atol=1e-6)


def run(seed, final, best, status="done"):
    return {"key": f"run{seed}", "status": status, "spec": {"seed": seed},
            "history": {"test_accuracy": [best, final]}, "best_test_accuracy": best}


def test_best_worst_median_by_final_and_by_best():
    runs = [run(0, final=0.90, best=0.97), run(1, final=0.95, best=0.95),
            run(2, final=0.93, best=0.96), run(3, final=0.91, best=0.94),
            run(4, final=0.99, best=0.99, status="diverged"), run(5, final=0.99, best=0.99,
                                                                   status="running")]
    by_final = analysis.best_worst_median(runs, "final")
    assert [by_final[role]["key"] for role in ("best", "median", "worst")] == ["run1", "run3", "run0"]
    by_best = analysis.best_worst_median(runs, "best")
    # 0.97, 0.96, 0.95, 0.94: the median of an even count is the lower of the middle two.
    assert [by_best[role]["key"] for role in ("best", "median", "worst")] == ["run0", "run1", "run3"]
    tied = analysis.best_worst_median([run(7, 0.9, 0.9), run(6, 0.9, 0.9)], "final")
    assert (tied["best"]["key"], tied["worst"]["key"]) == ("run6", "run7")
    assert analysis.best_worst_median([run(0, 0.9, 0.9, status="diverged")]) == {}
    with pytest.raises(ValueError, match="rank_by"):
        analysis.best_worst_median(runs, "mean")


def test_ood_metrics_on_constructed_confidences():
    separated = analysis.ood_metrics([0.9, 0.95, 0.99], [0.1, 0.2])
    assert separated["auroc"] == 1.0
    # In beats out in 5 of the 9 pairs: 0.2 > 0.1; 0.6 > 0.1, 0.5; 0.9 > 0.1, 0.5.
    interleaved = analysis.ood_metrics([0.2, 0.6, 0.9], [0.1, 0.5, 0.97])
    assert interleaved["auroc"] == pytest.approx(5 / 9)
    assert interleaved["ood_confident_fraction"] == pytest.approx(1 / 3)  # only 0.97
    assert interleaved["in_confident_fraction"] == 0.0  # 0.9 is not > 0.9
    assert interleaved["in_confidence_mean"] == pytest.approx(1.7 / 3)
    assert sum(interleaved["ood_histogram"]) == 3 and interleaved["ood_histogram"][-1] == 1
    assert analysis.ood_metrics([0.5], [0.5])["auroc"] == 0.5  # a tie counts half
    assert analysis.ood_metrics([0.1, 0.2], [0.8, 0.9])["auroc"] == 0.0


def test_ood_and_rank_config_errors():
    config = ExperimentConfig(name="x", dataset="mnist")
    with pytest.raises(InputError, match=r"--rank_runs_by='mean' is invalid: expected one of final, best"):
        validate(dataclasses.replace(config, rank_runs_by="mean"))
    with pytest.raises(InputError, match=r"--ood_dataset='mnist' is invalid: expected a dataset other"):
        validate(dataclasses.replace(config, ood_dataset="mnist"))
    with pytest.raises(InputError, match=r"--ood_dataset='svhn' is invalid: expected one of"):
        validate(dataclasses.replace(config, ood_dataset="svhn"))
    with pytest.raises(InputError, match="needs keep_best=True"):
        validate(dataclasses.replace(config, ood_dataset="fashion_mnist", keep_best=False))
    small = data.make_synthetic(10, 10)
    other = dataclasses.replace(data.make_synthetic(10, 10, image_shape=(32, 32, 3)), name="cifar10")
    with pytest.raises(InputError, match=r"--ood_dataset=cifar10: its images are \(32, 32, 3\): "
                                         r"expected \(28, 28, 1\)"):
        inspection.check_ood_dataset(small, other)


def test_classification_report_numbers_by_hand(tmp_path):
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    (tmp_path / "runs").mkdir()
    atomic_write_npz(tmp_path / "test_labels.npz", labels=labels)
    record = {"key": "r0", "status": "done", "spec": {"seed": 0, "initializer": "uniform"},
              "history": {"test_accuracy": [4 / 6]}, "best_test_accuracy": 4 / 6,
              "confusion_matrix": analysis.confusion_matrix(labels, predicted, 3).tolist()}
    group_loop.save_predictions(tmp_path / "runs" / "r0.predictions.npz", predicted,
                           np.ones(6, np.float32))
    lines = companion_report.classification_section(tmp_path, [record], ["a", "b", "c"], "final",
                                                     ("initializer",))
    assert "accuracy 66.67%" in "\n".join(lines)
    rows = {line.split(",")[0]: [float(v) for v in line.split(",")[1:]]
            for line in (tmp_path / "classification_report.csv").read_text().splitlines()[1:]}
    np.testing.assert_allclose(rows["a"], [1 / 2, 1 / 2, 1 / 2, 2])
    np.testing.assert_allclose(rows["b"], [2 / 3, 1, 0.8, 2])
    np.testing.assert_allclose(rows["c"], [1, 1 / 2, 2 / 3, 2])
    np.testing.assert_allclose(rows["macro avg"][:3], [(1 / 2 + 2 / 3 + 1) / 3, 2 / 3,
                                                       (1 / 2 + 0.8 + 2 / 3) / 3])
    assert "| b | 66.67 | 100.00 | 80.00 | 2 |" in "\n".join(lines)


def test_experiment_writes_the_companion_sections(tmp_path):
    dataset = data.make_synthetic(num_train=200, num_test=100, seed=0)
    ood = dataclasses.replace(data.make_synthetic(num_train=10, num_test=100, seed=9), name="digits")
    config = ExperimentConfig(name="companion", dataset="synthetic", epochs=2, seeds=2,
                              ood_dataset="digits", rank_runs_by="best",
                              grid={"initializer": ("glorot_uniform", "he_normal")})
    with pytest.raises(InputError, match="--ood_dataset='digits': that dataset was not loaded"):
        experiment.run_experiment(config, dataset, tmp_path)
    assert not (tmp_path / "companion").exists()
    experiment_dir = experiment.run_experiment(config, dataset, tmp_path, ood_dataset=ood)
    runs = [json.loads(path.read_text()) for path in sorted((experiment_dir / "runs").glob("*.json"))]
    assert len(runs) == 4
    for record in runs:
        assert len(record["history"]["test_soft_accuracy"]) == 2
        soft = np.array(record["soft_confusion"])
        np.testing.assert_allclose(soft.sum(axis=1), 1, atol=1e-5)
        counts = np.bincount(dataset.test_labels, minlength=10)
        # The diagonal, weighted by class sizes, is the soft accuracy.
        assert counts @ np.diag(soft) / counts.sum() == pytest.approx(
            record["history"]["test_soft_accuracy"][-1], abs=1e-5)
        assert 0 <= record["ood"]["auroc"] <= 1 and record["ood"]["dataset"] == "digits"
        assert sum(record["ood"]["ood_histogram"]) == 100
    internals = experiment_dir / artifacts.MODEL_INTERNALS_FILE
    assert internals.stat().st_size < 1_000_000
    with np.load(internals) as stored:
        described = json.loads(str(stored["runs"]))
        assert [run["initializer"] for run in described] == ["glorot_uniform", "he_normal"] or \
            [run["initializer"] for run in described] == ["he_normal", "glorot_uniform"]
        assert stored["0/fc1/initial"].shape == (inspection.MAX_STORED_WEIGHTS,)
        assert stored["feature_maps/conv1"].shape == (4, 28, 28, 6)
        assert stored["feature_maps/conv2"].shape == (4, 10, 10, 16)
        # The initial kernels are the ones build_lenet5 makes from the seed.
        first = described[0]
        rebuilt = models.build_lenet5((28, 28, 1), 10, initializer=first["initializer"],
                                      seed=first["seed"])
        np.testing.assert_array_equal(stored["0/conv1_kernel/initial"],
                                      rebuilt.get_layer("conv1").kernel.numpy())
    assert inspection.evaluate_ood(runs, experiment_dir / "runs", dataset, ood) == 0  # all done
    text = report.write_experiment_report(experiment_dir).read_text()
    for heading in ("final soft acc %", "Soft confusion matrix", "## Best, median and worst run "
                    "(ranked by best-epoch test accuracy", "## Classification report",
                    "## Inside the model", "## Out-of-distribution test (synthetic model, "
                    "digits test images)"):
        assert heading in text
    for figure in ("soft_confusion", "best_worst_median_0", "best_worst_median_1",
                   "weight_histograms", "first_layer_kernels", "feature_maps_conv1",
                   "feature_maps_conv2", "ood_confidence"):
        assert (experiment_dir / "figures" / f"{figure}.png").is_file()
    assert report.main(["report", str(experiment_dir), "--rank_runs_by=final"]) == 0
    assert "(ranked by final test accuracy" in (experiment_dir / "REPORT.md").read_text()
    assert report.main(["report", str(experiment_dir), "--rank_runs_by=mean"]) == 2


def test_old_records_without_soft_metrics_still_report(tmp_path):
    dataset = data.make_synthetic(num_train=100, num_test=50, seed=1)
    config = ExperimentConfig(name="old", dataset="synthetic", epochs=1, seeds=2, keep_best=False)
    experiment_dir = experiment.run_experiment(config, dataset, tmp_path)
    for path in (experiment_dir / "runs").glob("*.json"):
        record = json.loads(path.read_text())
        del record["history"]["test_soft_accuracy"], record["soft_confusion"]
        path.write_text(json.dumps(record))
    (experiment_dir / artifacts.TEST_LABELS_FILE).unlink()
    text = report.write_experiment_report(experiment_dir).read_text()
    assert "| 1 | glorot_uniform, lr 0.001" in text and "Soft confusion matrix" not in text
    assert "## Classification report" not in text and "## Inside the model" not in text
    assert "## Best, median and worst run" in text
