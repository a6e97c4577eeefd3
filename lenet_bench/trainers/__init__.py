"""Replica trainers: the arithmetic of a group's runs, behind one small interface.

A trainer holds R runs' models and optimizers and offers:

    train_epoch(images, labels[R], orders[R], batch_size, learning_rates[R],
                clean_labels, seeds=[R], epoch=e) -> {"loss", "accuracy", "clean_accuracy"}
    evaluate(images, labels) -> {"loss", "accuracy", "predictions", "confidence",
                                 "soft_accuracy", "soft_confusion_sums"}  (each per replica)
    get_weights(r) / set_weights(r, weights)   one run's weights, Keras get_weights order
    get_state() / set_state(state)             everything a checkpoint needs
    num_replicas

- keras_replicas.KerasReplicas: one Keras model per run, trained one after
  another (any architecture, any Keras optimizer).
- fused_tf.FusedLeNet5: the group's plain LeNet-5 runs as replicas in one
  TensorFlow graph (adam, sgd, sgd_momentum).

`trainers.group_loop.train_group` runs the epochs and keeps each run's record.
"""

from lenet_bench import machine
from lenet_bench.errors import InputError

TRAINERS = ("auto", "fused", "keras")


def check_fused_supports(spec) -> None:
    """Raises InputError when the fused trainer cannot train `spec`'s model."""
    if not spec.is_plain_lenet5:
        raise InputError(f"--trainer=fused trains plain LeNet-5 only, not --architecture="
                         f"{spec.architecture} --dropout={spec.dropout:g} --l2={spec.l2:g} "
                         f"--batch_norm={str(spec.batch_norm).lower()}: expected "
                         "--trainer=keras (or auto)")


def check_trainer(kind: str) -> None:
    if kind not in TRAINERS:
        raise InputError(f"--trainer={kind!r} is invalid: expected one of {', '.join(TRAINERS)}")


def make_trainer(kind: str, specs: list, initial_weights: list, dataset, jit_compile: bool | None):
    """The replica trainer for a group of runs (runs.RunSpec).

    'fused' or 'auto' give the fused trainer when it supports the optimizer
    and the model (plain LeNet-5), except that 'auto' keeps a lone run on
    the Keras trainer when oneDNN was not asked for (then one XLA-compiled
    Keras model measured faster on CPU; with oneDNN on, the fused path was:
    benchmarks/fused_speed.txt). Everything else trains on the Keras trainer.

    Raises:
      InputError: 'fused' for an optimizer or a model the fused path lacks.
    """
    check_trainer(kind)
    optimizer = specs[0].optimizer
    if kind == "fused":
        check_fused_supports(specs[0])
    wants_fused = kind == "fused" or (
        kind == "auto" and (len(specs) > 1 or machine.onednn_setting() == "on"))
    if specs[0].is_plain_lenet5 and wants_fused:
        from lenet_bench import augmentation
        from lenet_bench.trainers import fused_tf

        if optimizer in fused_tf.SUPPORTED_OPTIMIZERS:
            return fused_tf.FusedLeNet5(
                initial_weights, dataset.image_shape, dataset.num_classes, optimizer=optimizer,
                activation=specs[0].activation, first_conv_padding=specs[0].first_conv_padding,
                precision=specs[0].precision, jit_compile=jit_compile,
                augment=[augmentation.AugmentSettings.of(spec) for spec in specs])
        if kind == "fused":
            raise InputError(f"--optimizer={optimizer!r} is not supported by --trainer=fused: "
                             f"expected one of {', '.join(fused_tf.SUPPORTED_OPTIMIZERS)} "
                             "(or --trainer=keras)")
    from lenet_bench.trainers.keras_replicas import KerasReplicas

    return KerasReplicas(initial_weights, specs, dataset,
                         jit_compile=True if jit_compile is None else jit_compile)
