"""The per-run Keras trainer's compiled steps on the TensorFlow backend.

`make_step_functions` is the contract every backend's steps module keeps
(steps_tensorflow, steps_jax, steps_torch): the same closures, the same
numbers up to float rounding.
"""

import functools

import keras
import tensorflow as tf

from lenet_bench.trainers import augmentation
from lenet_bench.trainers.evaluation import evaluate_in_batches
from lenet_bench.trainers.tf_tracing import AnyBatchSize


def make_step_functions(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                        num_classes: int, jit_compile: bool,
                        augmenter: augmentation.Augmenter | None = None):
    """Returns (train_epoch, evaluate) closures over compiled steps for `model`.

    train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0,
    epoch=0) -> (mean loss, accuracy, accuracy on clean_labels) over the
    epoch's batches, as Keras `fit` reports them; with an `augmenter`, batch i
    is augmented with `augmentation.step_seed(seed, epoch, i)`. evaluate(images, labels) -> (mean loss, accuracy,
    predicted classes, max probabilities, soft accuracy, KxK sums of
    one_hot(labels)^T @ probabilities; see analysis.soft_confusion). Images are
    uint8; each batch is
    scaled to [0, 1] inside the step, so no float copy of the dataset is kept.
    The step minimizes the cross-entropy plus the model's own losses (L2 weight
    decay); the loss it reports is the cross-entropy alone, comparable across
    models with and without decay.
    """
    optimizer.build(model.trainable_variables)
    loss_sum = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    correct_sum = tf.Variable(0, dtype=tf.int64, trainable=False)
    clean_correct_sum = tf.Variable(0, dtype=tf.int64, trainable=False)

    def loss_and_correct(probabilities, labels):
        one_hot = tf.one_hot(labels, num_classes)
        losses = keras.losses.categorical_crossentropy(one_hot, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=-1, output_type=labels.dtype), labels)
        return losses, tf.reduce_sum(tf.cast(correct, tf.int64))

    @functools.partial(AnyBatchSize, batch_axes=(0, 0, 0))  # One trace for every batch size.
    @tf.function(jit_compile=jit_compile)
    def train_step(images, labels, clean_labels):
        if images.dtype.is_floating:  # Augmented batches come in float, scaled.
            inputs = images
        else:
            inputs = tf.cast(images, tf.float32) / 255.0
        with tf.GradientTape() as tape:
            probabilities = model(inputs, training=True)
            losses, correct = loss_and_correct(probabilities, labels)
            loss = tf.reduce_mean(losses)
            if model.losses:
                loss += tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        loss_sum.assign_add(tf.cast(tf.reduce_sum(losses), tf.float64))
        correct_sum.assign_add(correct)
        clean_correct_sum.assign_add(loss_and_correct(probabilities, clean_labels)[1])

    @functools.partial(AnyBatchSize, batch_axes=(0, 0))
    @tf.function(jit_compile=jit_compile)
    def eval_step(images, labels):
        probabilities = model(tf.cast(images, tf.float32) / 255.0, training=False)
        losses, correct = loss_and_correct(probabilities, labels)
        one_hot = tf.one_hot(labels, num_classes)
        return (tf.reduce_sum(tf.cast(losses, tf.float64)), correct,
                tf.argmax(probabilities, axis=-1), tf.reduce_max(probabilities, axis=-1),
                tf.reduce_sum(one_hot * probabilities),
                tf.matmul(one_hot, probabilities, transpose_a=True))

    def train_epoch(images, labels, order, batch_size, clean_labels=None, seed=0, epoch=0):
        clean_labels = labels if clean_labels is None else clean_labels
        for variable in (loss_sum, correct_sum, clean_correct_sum):
            variable.assign(tf.zeros_like(variable))
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            batch_images = images[batch]
            if augmenter is not None:
                batch_images = augmenter.augment(
                    batch_images, augmentation.step_seed(seed, epoch, start // batch_size))
            train_step(batch_images, labels[batch], clean_labels[batch])
        return (float(loss_sum.numpy()) / len(order), int(correct_sum.numpy()) / len(order),
                int(clean_correct_sum.numpy()) / len(order))

    return train_epoch, lambda images, labels: evaluate_in_batches(eval_step, images, labels,
                                                                  num_classes)
