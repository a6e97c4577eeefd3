"""The per-run Keras trainer on PyTorch (trainers.steps_torch), and the post-passes
(cost, inspection) and TensorBoard logs with TensorFlow unimportable. Runs only with KERAS_BACKEND=torch."""

import sys

import keras
import numpy as np
import pytest
import torch

from lenet_bench import runs
from lenet_bench.errors import InputError
from lenet_bench.networks import models
from lenet_bench.observers import cost, tensorboard_logging
from lenet_bench.records import analysis
from lenet_bench.trainers import steps_torch
from lenet_bench.trainers.keras_replicas import KerasReplicas

from backend_checks import NoTensorFlow, assert_post_passes_run

TRAIN_IMAGES = 300
BATCH = 32


# Its module-scoped fixture holds for the whole module: one worker runs it (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One PyTorch thread: its OpenMP pool spins, and slows many-fold on a shared core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def without_tensorflow(monkeypatch):
    assert "tensorflow" not in sys.modules, "an earlier test of this session imported TensorFlow"
    monkeypatch.setattr(sys, "meta_path", [NoTensorFlow(), *sys.meta_path])


def lenet(digits, **fields):
    spec = runs.RunSpec(dataset="digits", batch_size=BATCH, seed=0, **fields)
    return spec, models.build_run_model(spec, digits)


def test_steps_train_lenet5_and_report_what_tensorflow_reports(digits):
    assert keras.backend.backend() == "torch"
    images, labels = digits.train_images[:TRAIN_IMAGES], digits.train_labels[:TRAIN_IMAGES]
    order = np.random.default_rng(0).permutation(TRAIN_IMAGES)
    # Learning rate 0: the epoch's reported loss and accuracies are those of the fixed
    # model over all 300 images (the last, smaller batch included): evaluate's.
    _, model = lenet(digits)
    frozen_train, frozen_evaluate = steps_torch.make_step_functions(
        model, keras.optimizers.SGD(learning_rate=0.0), 10, jit_compile=True)
    shifted = (labels + 1) % 10
    loss, accuracy, clean_accuracy = frozen_train(images, shifted, order, BATCH, labels)
    clean = frozen_evaluate(images, labels)
    assert loss == pytest.approx(frozen_evaluate(images, shifted)[0], rel=1e-5)
    # Equal up to an argmax flipped by float rounding (batches of 32 against 300).
    assert accuracy == pytest.approx(frozen_evaluate(images, shifted)[1], abs=1 / TRAIN_IMAGES)
    assert clean_accuracy == pytest.approx(clean[1], abs=1 / TRAIN_IMAGES)
    assert clean[1] == np.mean(clean[2] == labels)
    assert clean[2].shape == clean[3].shape == (TRAIN_IMAGES,)
    assert clean[5].shape == (10, 10) and clean[5].sum() == pytest.approx(TRAIN_IMAGES, rel=1e-5)
    assert clean[4] == pytest.approx(np.trace(clean[5]) / TRAIN_IMAGES, rel=1e-5)

    _, model = lenet(digits)
    train_epoch, evaluate = steps_torch.make_step_functions(
        model, models.make_optimizer("adam", 1e-3), 10, jit_compile=True)
    before = model.get_weights()
    train_epoch(images, labels, order[:5], BATCH)  # One batch, smaller than BATCH.
    assert not np.array_equal(before[0], model.get_weights()[0])
    losses = [train_epoch(images, labels, order, BATCH)[0] for _ in range(2)]
    test_loss, test_accuracy = evaluate(digits.test_images, digits.test_labels)[:2]
    assert losses[1] < losses[0] and test_accuracy > 0.3, (losses, test_accuracy)  # chance: 0.1
    with pytest.raises(InputError, match="needs --backend=tensorflow"):
        steps_torch.make_step_functions(model, models.make_optimizer("adam", 1e-3), 10, True,
                                        augmenter=object())


def test_l2_dropout_batchnorm_trains_and_resumes_bit_identically(digits):
    spec, model = lenet(digits, dropout=0.25, l2=1e-3, batch_norm=True)
    images, labels = digits.train_images[:TRAIN_IMAGES], digits.train_labels[:TRAIN_IMAGES]
    orders = [np.random.default_rng(epoch).permutation(TRAIN_IMAGES) for epoch in range(2)]

    def epoch(trainer, number):
        return trainer.train_epoch(images, [labels], [orders[number]], BATCH,
                                   [spec.learning_rate], seeds=[0], epoch=number)

    trainer = KerasReplicas([model.get_weights()], [spec], digits)
    first = epoch(trainer, 0)
    state = trainer.get_state()
    second = epoch(trainer, 1)
    assert second["loss"][0] < first["loss"][0] and second["accuracy"][0] > 0.3, (first, second)
    _, other = lenet(digits, dropout=0.25, l2=1e-3, batch_norm=True, initializer="he_normal")
    resumed = KerasReplicas([other.get_weights()], [spec], digits)
    resumed.set_state(state)
    assert epoch(resumed, 1) == second
    for mine, theirs in zip(trainer.get_state().values(), resumed.get_state().values()):
        np.testing.assert_array_equal(mine, theirs)


def test_cost_inspection_and_tensorboard_run_without_tensorflow(digits, tmp_path, without_tensorflow,
                                                                   monkeypatch):
    monkeypatch.setattr(cost, "INFERENCE_REPEATS", 5)  # A smoke test, not a timing.
    spec, model = lenet(digits, batch_norm=True)
    _, confidence = assert_post_passes_run(spec, model, digits, tmp_path)
    assert analysis.ood_metrics(confidence, confidence)["auroc"] == pytest.approx(0.5)
    logger = tensorboard_logging.TensorBoardLogger(tmp_path / "tb", [spec], {})
    logger.write_experiment_config()
    logger.group_begin([spec], None, 0, [0], model, None)
    logger.close()
    assert list((tmp_path / "tb" / spec.key).glob(tensorboard_logging.EVENT_FILES))
    assert "tensorflow" not in sys.modules
