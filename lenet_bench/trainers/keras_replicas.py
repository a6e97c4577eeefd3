"""The per-run Keras trainer: a group's runs trained one after another, each a plain
Keras model with its own optimizer and compiled train and eval steps (on any
Keras backend: the steps come from trainers.steps_<backend>).

Any architecture (lenet_bench.architectures) trains here; the fused trainer
(lenet_bench.trainers.fused_tf) is faster for plain LeNet-5 groups on CPU.
"""

import importlib

import keras
import numpy as np

from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.runs import RunSpec
import lenet_bench.trainers.augmentation as augmentation


def steps_module():
    """The module with this process's backend's `make_step_functions`
    (steps_tensorflow, steps_jax or steps_torch)."""
    return importlib.import_module(f"lenet_bench.trainers.steps_{keras.backend.backend()}")


class KerasReplicas:
    """Runs of a group trained one after another, each a plain Keras LeNet-5.

    The same interface as `fused.FusedLeNet5`, so `train_group` treats both
    alike; each model has its own Keras optimizer and compiled steps.
    """

    def __init__(self, initial_weights: list, specs: list[RunSpec], dataset: data.Dataset,
                 *, jit_compile: bool = True):
        self.models, self.optimizers, self.steps = [], [], []
        make_step_functions = steps_module().make_step_functions
        for weights, spec in zip(initial_weights, specs):
            model = models.build_run_model(spec, dataset)
            model.set_weights(weights)
            optimizer = models.make_optimizer(spec.optimizer, spec.learning_rate)
            self.models.append(model)
            self.optimizers.append(optimizer)
            settings = augmentation.AugmentSettings.of(spec)
            augmenter = augmentation.Augmenter([settings]) if settings.on else None
            self.steps.append(make_step_functions(model, optimizer, dataset.num_classes,
                                                  jit_compile, augmenter))

    @property
    def num_replicas(self) -> int:
        return len(self.models)

    def train_epoch(self, images, labels, orders, batch_size, learning_rates, clean_labels=None,
                    *, seeds=None, epoch=0):
        results = []
        for index, (train_epoch, _) in enumerate(self.steps):
            self.optimizers[index].learning_rate = learning_rates[index]
            results.append(train_epoch(images, labels[index], orders[index], batch_size,
                                       clean_labels, seed=seeds[index] if seeds else 0,
                                       epoch=epoch))
        loss, accuracy, clean_accuracy = (np.array(column, dtype=np.float64)
                                          for column in zip(*results))
        return {"loss": loss, "accuracy": accuracy, "clean_accuracy": clean_accuracy}

    def evaluate(self, images, labels):
        results = [evaluate(images, labels) for _, evaluate in self.steps]
        return {"loss": np.array([r[0] for r in results]),
                "accuracy": np.array([r[1] for r in results]),
                "predictions": np.stack([r[2] for r in results]),
                "confidence": np.stack([r[3] for r in results]),
                "soft_accuracy": np.array([r[4] for r in results]),
                "soft_confusion_sums": np.stack([r[5] for r in results])}

    def get_weights(self, replica: int) -> list[np.ndarray]:
        return self.models[replica].get_weights()

    def set_weights(self, replica: int, weights: list[np.ndarray]) -> None:
        self.models[replica].set_weights(weights)

    def get_state(self) -> dict[str, np.ndarray]:
        """Every variable: weights, batch-norm statistics, dropout seed states, optimizer."""
        state = {}
        for index, (model, optimizer) in enumerate(zip(self.models, self.optimizers)):
            for number, variable in enumerate(model.variables + optimizer.variables):
                state[f"{index}/{number}"] = keras.ops.convert_to_numpy(variable.value)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        for index, (model, optimizer) in enumerate(zip(self.models, self.optimizers)):
            for number, variable in enumerate(model.variables + optimizer.variables):
                variable.assign(state[f"{index}/{number}"])
