"""Architecture variants, their config fields and run keys, and the cost figures of a run."""

import dataclasses
import json
import math
import re

import keras
import numpy as np
import pytest
from cli_runner import run_cli
from conftest import REPO_ROOT, run_options
from keras import layers

from lenet_bench import runs
from lenet_bench.config import ExperimentConfig, parse_grid_flag, validate
from lenet_bench.errors import InputError
from lenet_bench.inputs import data
from lenet_bench import architectures
from lenet_bench.networks import models
from lenet_bench.reports import report
from lenet_bench.study import experiment
from lenet_bench.trainers import steps_tensorflow


def conv(kernel, channels_in, channels_out, bias=True):
    return kernel * kernel * channels_in * channels_out + (channels_out if bias else 0)


def dense(units_in, units_out, bias=True):
    return units_in * units_out + (units_out if bias else 0)


def batch_norm(channels):
    return 4 * channels  # gamma, beta (trainable), moving mean and variance (not).


# LeNet-5's layers after the convolutions: 16 maps of s x s into 120, 84, 10.
def lenet_head(side, hidden=(120, 84)):
    return (dense(16 * side * side, hidden[0]) + dense(hidden[0], hidden[1])
            + dense(hidden[1], 10))


LENET5_28 = conv(5, 1, 6) + conv(5, 6, 16) + lenet_head(5)  # 28 same -> 14 -> 10 -> 5.
LENET5_BN = (conv(5, 1, 6, bias=False) + batch_norm(6) + conv(5, 6, 16, bias=False)
             + batch_norm(16) + dense(400, 120, bias=False) + batch_norm(120)
             + dense(120, 84, bias=False) + batch_norm(84) + dense(84, 10))
MLP = dense(784, 100) + dense(100, 100) + dense(100, 10)
MLP_BN = (dense(784, 100, bias=False) + batch_norm(100) + dense(100, 100, bias=False)
          + batch_norm(100) + dense(100, 10))
# VGG-19: 2x64, 2x128, 4x256, 4x512, 4x512 3x3 convolutions; 32x32 pools down to 1x1x512.
VGG19_CHANNELS = [3, 64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]
VGG19_BASE = sum(conv(3, a, b) for a, b in zip(VGG19_CHANNELS, VGG19_CHANNELS[1:]))


@pytest.mark.parametrize("name, input_shape, expected, trainable", [
    ("lenet5", (28, 28, 1), LENET5_28, LENET5_28),
    # 'valid' at 32x32: 32 -> 28 -> 14 -> 10 -> 5, three input channels.
    ("lenet5", (32, 32, 3), conv(5, 3, 6) + conv(5, 6, 16) + lenet_head(5), None),
    ("lenet5_elu", (28, 28, 1), LENET5_28, LENET5_28),
    ("lenet5_dropout", (28, 28, 1), LENET5_28, LENET5_28),
    # Dilation 2 (9x9 span): 28 same -> 14 -> 14 - 8 = 6 -> pool 3.
    ("lenet5_dilated", (28, 28, 1), conv(5, 1, 6) + conv(5, 6, 16) + lenet_head(3), None),
    # Stride 2: 28 same -> 14, (14 - 5) // 2 + 1 = 5: LeNet-5's sizes without pooling.
    ("lenet5_strided", (28, 28, 1), LENET5_28, None),
    ("lenet5_wide_fc", (28, 28, 1), conv(5, 1, 6) + conv(5, 6, 16) + lenet_head(5, (512, 256)),
     None),
    ("lenet5_batchnorm", (28, 28, 1), LENET5_BN, LENET5_BN - 2 * (6 + 16 + 120 + 84)),
    ("mlp", (28, 28, 1), MLP, MLP),
    ("mlp_sigmoid", (28, 28, 1), MLP, MLP),
    ("mlp_batchnorm", (28, 28, 1), MLP_BN, MLP_BN - 2 * (100 + 100)),
])
def test_parameter_counts_match_hand_arithmetic(name, input_shape, expected, trainable):
    model = models.build_model(architectures.resolve(name), input_shape, 10)
    assert model.count_params() == expected
    if trainable is not None:
        assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == trainable


def test_parameter_count_table_lists_every_preset_and_vgg19():
    rows = {(row["model"], row["input_shape"]): row for row in models.parameter_count_rows()}
    assert {name for name, _ in rows} == set(architectures.PRESETS) | {"vgg19_cifar10",
                                                                      "vgg19_keras_top"}
    assert rows["lenet5", "28x28x1"]["params"] == 61_706
    assert rows["lenet5", "32x32x3"]["params"] == 62_006
    assert rows["mlp_batchnorm", "28x28x1"]["trainable_params"] == MLP_BN - 400
    assert rows["vgg19_cifar10", "32x32x3"]["params"] == VGG19_BASE + dense(512, 10)
    keras_top = VGG19_BASE + dense(512, 4096) + dense(4096, 4096) + dense(4096, 10)
    assert rows["vgg19_keras_top", "32x32x3"]["params"] == keras_top


def original_lenet5(input_shape, initializer, seed):
    """build_lenet5 as it was before architectures existed (commit b500b44), for reference."""
    first_padding = "same" if min(input_shape[:2]) < 32 else "valid"
    seeds = iter(models.layer_seeds(seed, 5))

    def init():
        return models.make_initializer(initializer, next(seeds))

    inputs = keras.Input(shape=input_shape)
    x = layers.Conv2D(6, 5, padding=first_padding, activation="relu", kernel_initializer=init())(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 5, padding="valid", activation="relu", kernel_initializer=init())(x)
    x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    x = layers.Dense(120, activation="relu", kernel_initializer=init())(x)
    x = layers.Dense(84, activation="relu", kernel_initializer=init())(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer=init())(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("input_shape, initializer, seed", [
    ((28, 28, 1), "truncated_normal", 3), ((32, 32, 3), "glorot_uniform", 0)])
def test_default_architecture_keeps_the_weights_a_seed_always_gave(input_shape, initializer, seed):
    reference = original_lenet5(input_shape, initializer, seed).get_weights()
    spec = runs.RunSpec(dataset="x", train_size=None, data_seed=0, initializer=initializer,
                         activation="relu", first_conv_padding="auto", optimizer="adam",
                         learning_rate=0.01, lr_decay=1.0, label_noise=0.0, noise_mode="sampled",
                         epochs=1, batch_size=8, seed=seed)
    images = np.zeros((1, *input_shape), dtype=np.uint8)
    shaped_like = data.Dataset(name="x", train_images=images, train_labels=np.zeros(1),
                               test_images=images, test_labels=np.zeros(1),
                               class_names=tuple("0123456789"), source="test")
    built = models.build_run_model(spec, shaped_like).get_weights()
    assert len(built) == len(reference) == 10
    assert all(np.array_equal(a, b) for a, b in zip(built, reference))


def small_config(**changes) -> ExperimentConfig:
    config = ExperimentConfig(name="tiny", dataset="digits", initializer="glorot_uniform",
                              learning_rate=0.005, lr_decay=0.5, epochs=2, batch_size=64,
                              seeds=2, train_size=300)
    return dataclasses.replace(config, **changes)


@pytest.mark.parametrize("changes, message", [
    ({"architecture": "lenet6"},
     r"^--architecture='lenet6' is unknown \(did you mean lenet5\?\): expected one of lenet5, "),
    ({"dropout": 1.0}, r"^--dropout=1.0 is invalid: expected a number in \[0, 1\)$"),
    ({"dropout": -0.1}, r"^--dropout=-0.1 is invalid: expected a number in \[0, 1\)$"),
    ({"l2": -1e-4}, r"^--l2=-0.0001 is invalid: expected a number >= 0$"),
    ({"l2": math.inf}, r"^--l2=inf is invalid: expected a number >= 0$"),
    ({"batch_norm": "yes"}, r"^--batch_norm='yes' is invalid: expected true or false$"),
    ({"architecture": "mlp_sigmoid", "activation": "tanh"},
     r"^--activation='tanh' conflicts with --architecture=mlp_sigmoid \(which uses sigmoid\)"),
    ({"grid": {"architecture": ("lenet5", "mpl")}},
     r"^--architecture='mpl' is unknown \(did you mean mlp\?\)"),
])
def test_invalid_model_fields_name_their_flag(changes, message):
    with pytest.raises(InputError, match=message):
        validate(small_config(**changes))


def test_model_fields_can_be_grid_fields():
    assert parse_grid_flag("batch_norm=true,False,0") == ("batch_norm", (True, False, False))
    assert parse_grid_flag("dropout=0.25,0.5") == ("dropout", (0.25, 0.5))
    assert parse_grid_flag("l2=1e-4") == ("l2", (1e-4,))
    assert parse_grid_flag("architecture=mlp,lenet5") == ("architecture", ("mlp", "lenet5"))
    with pytest.raises(InputError, match=r"^--grid=batch_norm='maybe' is invalid: expected true "):
        parse_grid_flag("batch_norm=maybe")


def test_default_model_fields_keep_the_run_keys_and_others_change_them():
    # Keys computed by the code before the model fields existed (commit 742ba97, as in
    # test_train.py).
    assert [spec.key for spec in runs.run_specs(small_config())] == [
        "glorot_uniform_lr0.005_decay0.5_seed0_599816aa",
        "glorot_uniform_lr0.005_decay0.5_seed1_1637895e"]
    base = runs.run_specs(small_config(seeds=1))[0]
    keys = {}
    for change in ({"architecture": "mlp"}, {"dropout": 0.5}, {"l2": 1e-4},
                   {"batch_norm": True}, {"architecture": "lenet5_dropout"}):
        spec = runs.run_specs(small_config(seeds=1, **change))[0]
        assert spec.group_key != base.group_key and not spec.is_plain_lenet5
        keys[json.dumps(change)] = spec.key
    assert len(set(keys.values()) | {base.key}) == 6
    assert keys['{"architecture": "mlp"}'].startswith("mlp_glorot_uniform_lr0.005_decay0.5_seed0_")
    assert keys['{"dropout": 0.5}'].startswith("glorot_uniform_lr0.005_decay0.5_drop0.5_seed0_")
    assert keys['{"l2": 0.0001}'].startswith("glorot_uniform_lr0.005_decay0.5_l20.0001_seed0_")
    assert keys['{"batch_norm": true}'].startswith("glorot_uniform_lr0.005_decay0.5_bn_seed0_")


def test_l2_adds_its_gradient_to_the_update():
    """One SGD step: with l2, each kernel moves by an extra -lr * 2 * l2 * w (numpy reference)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(8, dtype=np.int64) % 10
    learning_rate, l2 = 0.1, 0.05
    stepped = []
    for decay in (0.0, l2):
        model = models.build_model(architectures.resolve("mlp", l2=decay), (28, 28, 1), seed=1)
        optimizer = models.make_optimizer("sgd", learning_rate)
        train_epoch, _ = steps_tensorflow.make_step_functions(model, optimizer, 10, jit_compile=False)
        initial = model.get_weights()
        train_epoch(images, labels, np.arange(8), 8)
        stepped.append(model.get_weights())
    for index in (0, 2, 4):  # Kernels; biases (1, 3, 5) carry no decay.
        expected = stepped[0][index] - learning_rate * 2 * l2 * initial[index]
        np.testing.assert_allclose(stepped[1][index], expected, atol=1e-6)
    np.testing.assert_allclose(stepped[1][1], stepped[0][1], atol=1e-7)


def test_fused_trainer_refuses_other_models_before_writing(tmp_path, digits):
    with pytest.raises(InputError, match=r"^--trainer=fused trains plain LeNet-5 only, not "
                       r"--architecture=lenet5 --dropout=0.5 --l2=0 --batch_norm=false: expected "
                       r"--trainer=keras"):
        experiment.run_experiment(small_config(dropout=0.5), digits, tmp_path / "wd",
                                  run_options(trainer="fused"))
    assert not (tmp_path / "wd").exists()


def test_batchnorm_dropout_variant_trains_on_keras_path_and_resumes_exactly(tmp_path, digits,
                                                                          monkeypatch):
    """A killed run resumes from its checkpoint to the uninterrupted numbers: the checkpoint
    holds batch-norm moving statistics and dropout seed states, not just the weights."""
    config = small_config(architecture="lenet5_batchnorm", dropout=0.3, seeds=1, epochs=3,
                          train_size=200, batch_size=50, lr_decay=1.0)
    counts = models.parameter_count_rows  # Without VGG-19 here: its test is above.
    monkeypatch.setattr(models, "parameter_count_rows",
                        lambda *args: counts(*args, include_vgg19=False))
    clean_dir = experiment.run_experiment(config, digits, tmp_path / "clean", run_options(jit="off"))
    key = runs.run_specs(config)[0].key
    clean = json.loads((clean_dir / "runs" / f"{key}.json").read_text())
    assert clean["status"] == "done" and clean["trainer"] == "KerasReplicas"
    assert clean["num_params"] == LENET5_BN and clean["history"]["test_accuracy"][-1] > 0.3

    save_checkpoint = runs.save_checkpoint

    def save_then_die(path, epochs_done, records, state):
        save_checkpoint(path, epochs_done, records, state)
        if epochs_done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(runs, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_experiment(config, digits, tmp_path / "killed", run_options(jit="off"))
    monkeypatch.setattr(runs, "save_checkpoint", save_checkpoint)
    killed_dir = tmp_path / "killed" / "tiny"
    assert json.loads((killed_dir / "runs" / f"{key}.json").read_text())["epochs_done"] == 2
    experiment.run_experiment(config, digits, tmp_path / "killed", run_options(jit="off"))
    resumed = json.loads((killed_dir / "runs" / f"{key}.json").read_text())
    assert resumed["status"] == "done" and resumed["epochs_done"] == 3
    for metric in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        assert resumed["history"][metric] == clean["history"][metric], metric

    cost = clean["cost"]
    assert set(cost) == {"train_seconds", "epoch_seconds_mean", "inference_ms_per_image_batch1",
                         "inference_ms_per_image_large_batch", "inference_large_batch",
                         "keras_file_bytes", "params", "trainable_params"}
    assert cost["params"] == LENET5_BN and cost["trainable_params"] == LENET5_BN - 452
    assert cost["inference_large_batch"] == len(digits.test_labels)
    assert 0 < cost["inference_ms_per_image_large_batch"] and 0 < cost["inference_ms_per_image_batch1"]
    assert LENET5_BN * 4 < cost["keras_file_bytes"] < LENET5_BN * 4 + 200_000  # float32 + config
    assert cost["train_seconds"] == clean["wall_seconds"]
    assert cost["epoch_seconds_mean"] == pytest.approx(np.mean(clean["history"]["epoch_seconds"]))

    report_text = report.write_experiment_report(clean_dir).read_text()
    assert "infer ms/img (batch 1)" in report_text and "## Parameter counts" in report_text
    table = (clean_dir / "parameter_counts.csv").read_text()
    assert f"lenet5_batchnorm,28x28x1,{LENET5_BN},{LENET5_BN - 452}," in table


def fake_run(key, seed, accuracy, spec_changes=None, cost=None):
    run = {"key": key, "status": "done", "wall_seconds": 4.0, "device": "CPU: test",
           "spec": {"initializer": "uniform", "learning_rate": 0.01, "lr_decay": 0.9,
                    "optimizer": "adam", "batch_size": 32, "activation": "relu", "epochs": 2,
                    "train_size": None, "seed": seed, **(spec_changes or {})},
           "history": {"epoch": [1, 2], "test_accuracy": [accuracy / 2, accuracy],
                       "train_accuracy": [0.5, 0.6], "epoch_seconds": [2.0, 2.0]},
           "best_epoch": 2, "best_test_accuracy": accuracy, "num_params": 61_706}
    if cost:
        run["cost"] = cost
    return run


def test_summary_shows_cost_and_model_columns_only_where_runs_have_them():
    old = [fake_run(f"a{seed}", seed, 0.9) for seed in range(2)]
    rows = report.summarize(old)
    assert not {"architecture", "dropout", "keras_file_bytes_mean"} & set(rows[0])
    assert report.summary_header(rows) == report.SUMMARY_HEADER
    assert report.extras_header(rows) == []

    costs = [{"inference_ms_per_image_batch1": b1, "inference_ms_per_image_large_batch": big,
              "inference_large_batch": 1000, "keras_file_bytes": size}
             for b1, big, size in ((0.5, 0.01, 300_000), (0.7, 0.03, 302_000))]
    new = [fake_run(f"m{seed}", seed, 0.8, {"architecture": "mlp"}, costs[seed]) for seed in range(2)]
    rows = report.summarize(old + new)
    mlp = next(row for row in rows if row["architecture"] == "mlp")
    assert mlp["setting"].startswith("mlp") and rows[0]["architecture"] == "lenet5"
    assert mlp["inference_ms_per_image_batch1_mean"] == pytest.approx(0.6)
    assert mlp["keras_file_bytes_mean"] == pytest.approx(301_000)
    assert math.isnan(rows[0]["keras_file_bytes_mean"])  # The old runs measured nothing.
    table = report.extras_table_rows(rows)  # The cost columns: a table of their own.
    assert report.extras_header(rows) == ["setting", *report.COST_HEADER]
    assert table[1][-4:] == ["61,706", "0.600", "0.0200 (×1000)", "301"]
    assert table[0][-3:] == ["–", "–", "–"]


@pytest.mark.parametrize("flags, message", [
    (["--architecture=lenet6"], r"^error: --architecture='lenet6' is unknown \(did you mean "
                                r"lenet5\?\): expected one of lenet5, .*mlp_sigmoid"),
    (["--dropout=1"], r"^error: --dropout=1.0 is invalid: expected a number in \[0, 1\)$"),
    (["--grid=batch_norm=sometimes"],
     r"^error: --grid=batch_norm='sometimes' is invalid: expected true or false$"),
    (["--architecture=mlp", "--trainer=fused"],
     r"^error: --trainer=fused trains plain LeNet-5 only, not --architecture=mlp "),
])
def test_cli_refuses_bad_model_flags_in_one_line(tmp_path, flags, message, monkeypatch, capfd):
    result = run_cli(["--experiment=digits_smoke", f"--workdir={tmp_path / 'wd'}", *flags],
                     monkeypatch=monkeypatch, capfd=capfd, env={"TF_CPP_MIN_LOG_LEVEL": "2"},
                     cwd=REPO_ROOT)
    assert result.returncode == 2 and re.match(message, result.stderr.strip()), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "wd" / "digits_smoke" / "runs").exists()
