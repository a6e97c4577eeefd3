"""Which replica trainer a group gets (trainers.make_trainer)."""


import pytest

from lenet_bench import runs
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.trainers import make_trainer
from lenet_bench.trainers.fused_tf import FusedLeNet5
from lenet_bench.trainers.keras_replicas import KerasReplicas

# Its module-scoped fixtures are built once: one worker runs the module (tests/conftest.py).
pytestmark = pytest.mark.xdist_group(__name__)


@pytest.fixture(scope="module")
def tiny():
    return data.make_synthetic(num_train=64, num_test=16)


def trainer_for(specs, dataset, kind):
    weights = [models.build_run_model(spec, dataset).get_weights() for spec in specs]
    return make_trainer(kind, specs, weights, dataset, jit_compile=False)


def group(count=2, **fields):
    return [runs.RunSpec(dataset="synthetic", seed=seed, epochs=1, **fields)
            for seed in range(count)]


@pytest.mark.parametrize("onednn, count, expected", [
    ("1", 2, FusedLeNet5), ("0", 2, FusedLeNet5),
    ("1", 1, FusedLeNet5),  # oneDNN on: the fused path measured faster even for one run.
    ("0", 1, KerasReplicas),  # oneDNN off: one XLA Keras model measured faster.
])
def test_auto_picks_the_fused_trainer_for_plain_lenet5_groups(tiny, monkeypatch, onednn, count,
                                                             expected):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", onednn)
    assert type(trainer_for(group(count), tiny, "auto")) is expected


@pytest.mark.parametrize("fields", [{"optimizer": "rmsprop"}, {"architecture": "mlp"},
                                    {"dropout": 0.5}])
def test_auto_falls_back_to_keras_where_the_fused_path_cannot(tiny, fields):
    assert type(trainer_for(group(2, **fields), tiny, "auto")) is KerasReplicas


def test_asking_for_fused_where_it_cannot_is_one_line(tiny):
    with pytest.raises(InputError, match=r"^--optimizer='rmsprop' is not supported by "
                                         r"--trainer=fused: expected one of adam, sgd"):
        trainer_for(group(2, optimizer="rmsprop"), tiny, "fused")
    with pytest.raises(InputError, match=r"^--trainer=fused trains plain LeNet-5 only"):
        trainer_for(group(2, architecture="mlp"), tiny, "fused")
    with pytest.raises(InputError, match=r"^--trainer='jax' is invalid: expected one of auto, "
                                         r"fused, keras$"):
        trainer_for(group(2), tiny, "jax")


def test_keras_is_keras_whatever_the_group(tiny):
    assert type(trainer_for(group(3), tiny, "keras")) is KerasReplicas


def test_any_batch_size_traces_a_step_once_for_every_batch_and_computes_the_same():
    import numpy as np
    import tensorflow as tf

    from lenet_bench.trainers.tf_tracing import AnyBatchSize

    step = tf.function(lambda images, labels: tf.reduce_sum(tf.cast(images, tf.float32), axis=[1, 2])
                       * tf.cast(labels, tf.float32))  # (B,): per example
    once = AnyBatchSize(step, batch_axes=(0, 0))
    plain = tf.function(step.python_function)
    rng = np.random.default_rng(0)
    for batch in (32, 32, 12):
        images = rng.integers(0, 256, (batch, 3, 2), dtype=np.uint8)
        labels = rng.integers(0, 10, batch)
        np.testing.assert_array_equal(once(images, labels), plain(images, labels))
    assert step.experimental_get_tracing_count() == 1
    assert plain.experimental_get_tracing_count() == 2  # What it saves: a trace per shape.
    once(np.zeros((4, 3, 2), np.float32), np.zeros(4, np.int64))  # Other dtypes: a new trace.
    assert step.experimental_get_tracing_count() == 2
