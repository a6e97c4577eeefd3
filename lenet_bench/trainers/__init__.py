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
- fused_jax.FusedKerasReplicas: the group's runs as replicas of the Keras
  model itself on the JAX backend: jax.vmap over stateless_call and the
  optimizer's stateless_apply, or the layers as batched matrix products
  (lenet_matmul_jax), an epoch one jitted lax.scan on the device.

Which one trains is decided per backend (lenet_bench.backends) and device by
`make_trainer`: the Keras trainer runs on every backend; 'fused' is fused_tf
on TensorFlow, fused_jax on JAX, and refused on PyTorch.

`trainers.group_loop.train_group` runs the epochs and keeps each run's record.
"""

from lenet_bench import backends, machine
from lenet_bench.errors import InputError
from lenet_bench import architectures
from lenet_bench.keras_names import FUSED_TF_OPTIMIZERS

TRAINERS = ("auto", "fused", "keras")
CPU_GROUP_SIZE = 12  # Fused TF: flat from 12 replicas on (benchmarks/fused_speed.txt).
GPU_JAX_GROUP_SIZE = 512  # A whole grid; about 6 MB per replica at batch 128.
# Fused JAX on a CPU from this many runs a group on: at 12, batch 128, its batched
# products trained 1.09x each run alone on the Keras trainer, at 1 0.83x
# (benchmarks/jax_cpu_speed.txt); sizes in between were not measured.
CPU_JAX_FUSED_FROM = 12


def default_group_size() -> int:
    """The most runs one group trains together when --group_size is not given: on a
    GPU with the JAX backend, whole grids (hundreds of replicas fit in one step); else
    CPU_GROUP_SIZE."""
    if backends.active() == "jax" and machine.accelerators():
        return GPU_JAX_GROUP_SIZE
    return CPU_GROUP_SIZE


def packs_across_seeds(kind: str) -> bool:
    """Whether groups may mix seeds at no cost: the fused JAX trainer gathers a batch
    per replica anyway, so a group's runs need not share a data order."""
    return kind != "keras" and backends.active() == "jax"


def check_fused_supports(spec) -> None:
    """Raises InputError when the fused trainer cannot train `spec`'s model (a RunSpec,
    or a config's grid point: by its model fields alone, before Keras is imported)."""
    if not architectures.is_plain_lenet5(spec.architecture, spec.dropout, spec.l2,
                                         spec.batch_norm):
        raise InputError(f"--trainer=fused trains plain LeNet-5 only, not --architecture="
                         f"{spec.architecture} --dropout={spec.dropout:g} --l2={spec.l2:g} "
                         f"--batch_norm={str(spec.batch_norm).lower()}: expected "
                         "--trainer=keras (or auto)")


def check_trainer(kind: str) -> None:
    if kind not in TRAINERS:
        raise InputError(f"--trainer={kind!r} is invalid: expected one of {', '.join(TRAINERS)}")


def check_trainer_fits(kind: str, config) -> None:
    """Raises InputError when trainer `kind` (a valid --trainer: options.check_options)
    cannot train a grid point of `config` (an ExperimentConfig) on its backend: by name
    alone, so the preflight refuses it before Keras is imported."""
    check_trainer_backend(kind, config.backend)
    if kind == "fused":
        for point in config.grid_points():
            check_fused_supports(point)
            check_fused_optimizer(point.optimizer, config.backend)


def check_trainer_backend(kind: str, backend: str) -> None:
    if kind == "fused" and backend == "torch":
        raise InputError("--trainer=fused is not available on --backend=torch: expected "
                         "--trainer=keras (or auto), or --backend=tensorflow or jax")


def check_fused_optimizer(optimizer: str, backend: str) -> None:
    """The fused TensorFlow trainer's optimizers (the fused JAX trainer takes any)."""
    if backend == "tensorflow" and optimizer not in FUSED_TF_OPTIMIZERS:
        raise InputError(f"--optimizer={optimizer!r} is not supported by --trainer=fused: "
                         f"expected one of {', '.join(FUSED_TF_OPTIMIZERS)} "
                         "(or --trainer=keras)")


def make_trainer(kind: str, specs: list, initial_weights: list, dataset, jit_compile: bool | None):
    """The replica trainer for a group of runs (runs.RunSpec) on this process's backend.

    Raises:
      InputError: 'fused' for an optimizer, a model or a backend the fused
        path lacks.
    """
    check_trainer(kind)
    backend = backends.active()
    check_trainer_backend(kind, backend)
    if kind == "fused":
        check_fused_supports(specs[0])
    if backend == "tensorflow":
        trainer = _tensorflow_fused(kind, specs, initial_weights, dataset, jit_compile)
    elif backend == "jax":
        trainer = _jax_fused(kind, specs, initial_weights, dataset)
    else:
        trainer = None
    if trainer is not None:
        return trainer
    from lenet_bench.trainers.keras_replicas import KerasReplicas

    return KerasReplicas(initial_weights, specs, dataset,
                         jit_compile=True if jit_compile is None else jit_compile)


def _jax_fused(kind: str, specs: list, initial_weights: list, dataset):
    """The fused JAX trainer for 'fused', and for 'auto' where a GPU runs the group or,
    on a CPU, a group of CPU_JAX_FUSED_FROM runs or more (then its batched products
    measured faster than each run alone, and 5x its vmapped convolutions:
    BUILD_NOTES.md, "Backends"); None: the Keras trainer."""
    on_gpu = bool(machine.accelerators())
    wants_fused = kind == "fused" or (kind == "auto" and specs[0].is_plain_lenet5
                                      and (on_gpu or len(specs) >= CPU_JAX_FUSED_FROM))
    if not wants_fused:
        return None
    from lenet_bench.trainers import fused_jax

    return fused_jax.FusedKerasReplicas(initial_weights, specs, dataset)


def _tensorflow_fused(kind: str, specs: list, initial_weights: list, dataset,
                      jit_compile: bool | None):
    """The fused TF trainer where it supports the optimizer and the model (plain
    LeNet-5), except that 'auto' keeps a lone run on the Keras trainer when oneDNN
    was not asked for (then one XLA-compiled Keras model measured faster on CPU;
    with oneDNN on, the fused path was: benchmarks/fused_speed.txt). None: the Keras
    trainer."""
    optimizer = specs[0].optimizer
    wants_fused = kind == "fused" or (
        kind == "auto" and (len(specs) > 1 or machine.onednn_setting() == "on"))
    if not (specs[0].is_plain_lenet5 and wants_fused):
        return None
    from lenet_bench.trainers import augmentation, fused_tf

    if optimizer in FUSED_TF_OPTIMIZERS:
        return fused_tf.FusedLeNet5(
            initial_weights, dataset.image_shape, dataset.num_classes, optimizer=optimizer,
            activation=specs[0].activation, first_conv_padding=specs[0].first_conv_padding,
            precision=specs[0].precision, jit_compile=jit_compile,
            augment=[augmentation.AugmentSettings.of(spec) for spec in specs])
    if kind == "fused":
        check_fused_optimizer(optimizer, "tensorflow")
    return None
