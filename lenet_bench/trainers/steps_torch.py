"""The per-run Keras trainer's steps on the PyTorch backend.

`make_step_functions` keeps the contract of steps_tensorflow.make_step_functions
(the same closures, the same numbers up to float rounding), with the training
loop Keras documents for PyTorch: the model's forward pass under autograd,
`loss.backward()`, the variables' `.grad`, then `optimizer.apply` under
`torch.no_grad()`. Nothing here imports TensorFlow.
"""

import keras
import numpy as np
import torch

from lenet_bench import backends
from lenet_bench.trainers.evaluation import evaluate_in_batches


def make_step_functions(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                        num_classes: int, jit_compile: bool, augmenter=None):
    """Returns (train_epoch, evaluate) closures over eager PyTorch steps for `model`.

    The same as steps_tensorflow.make_step_functions (which see), except:

    Args:
      jit_compile: ignored: the steps run eagerly. torch.compile is not used
        (not measured here; on a CPU its inductor backend builds C++ kernels
        with the machine's compiler, a cost every run's first steps would pay).
      augmenter: must be None: augmentation runs TensorFlow ops
        (lenet_bench.trainers.augmentation), so it is refused here.

    Raises:
      InputError: an augmenter.
    """
    del jit_compile
    if augmenter is not None:
        backends.require_tensorflow("--augment_translation/rotation/zoom/flip")
    optimizer.build(model.trainable_variables)
    device = model.trainable_variables[0].value.device

    def tensor(array, dtype):
        return torch.as_tensor(np.asarray(array), device=device).to(dtype)

    def loss_and_correct(probabilities, labels):
        one_hot = keras.ops.one_hot(labels, num_classes)
        losses = keras.losses.categorical_crossentropy(one_hot, probabilities)
        correct = (torch.argmax(probabilities, dim=-1) == labels).sum()
        return losses, correct

    def train_step(images, labels, clean_labels, sums):
        probabilities = model(tensor(images, torch.float32) / 255.0, training=True)
        labels, clean_labels = tensor(labels, torch.int64), tensor(clean_labels, torch.int64)
        losses, correct = loss_and_correct(probabilities, labels)
        loss = losses.mean()
        if model.losses:
            loss = loss + sum(model.losses)
        model.zero_grad()
        loss.backward()
        gradients = [variable.value.grad for variable in model.trainable_variables]
        with torch.no_grad():
            optimizer.apply(gradients, model.trainable_variables)
            sums[0] += losses.sum().to(torch.float64)
            sums[1] += correct
            sums[2] += (torch.argmax(probabilities, dim=-1) == clean_labels).sum()

    @torch.no_grad()
    def eval_step(images, labels):
        probabilities = model(tensor(images, torch.float32) / 255.0, training=False)
        labels = tensor(labels, torch.int64)
        losses, correct = loss_and_correct(probabilities, labels)
        one_hot = keras.ops.one_hot(labels, num_classes)
        return (losses.to(torch.float64).sum(), correct, torch.argmax(probabilities, dim=-1),
                probabilities.max(dim=-1).values, (one_hot * probabilities).sum(),
                one_hot.T @ probabilities)

    def train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0, epoch=0):
        clean_labels = labels if clean_labels is None else clean_labels
        # Summed on the device, read once per epoch (no host sync per step).
        sums = [torch.zeros((), dtype=dtype, device=device)
                for dtype in (torch.float64, torch.int64, torch.int64)]
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            train_step(images[batch], labels[batch], clean_labels[batch], sums)
        loss_sum, correct_sum, clean_correct_sum = (value.item() for value in sums)
        return (loss_sum / len(order), correct_sum / len(order), clean_correct_sum / len(order))

    return train_epoch, lambda images, labels: evaluate_in_batches(eval_step, images, labels,
                                                                  num_classes)
