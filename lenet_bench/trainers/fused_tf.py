"""The fast path: R LeNet-5 replicas trained together in one graph.

Each replica is exactly the Keras LeNet-5 of `models.build_lenet5` with its
own weights, optimizer state, learning rate, labels and data order; the
replicas only share the graph, so one step does the work of R steps with
one round of op dispatch. How the layers are fused:

- conv1: when the replicas see the same batch (runs of one seed share their
  data order), one convolution with R x 6 filters over the shared input;
  otherwise one convolution per replica on its own batch.
- conv2: one plain convolution per replica, all in the same graph (a grouped
  convolution would do it in one op, but TensorFlow has no CPU gradient for
  it, and XLA on CPU runs grouped/depthwise convolutions very slowly).
- dense layers: batched matrix products over the replica axis (einsum).
- the optimizer (Adam, SGD or SGD with momentum 0.9: Keras 3's formulas and
  defaults) updates the stacked variables with a per-replica learning rate.
- precision 'mixed_bfloat16' computes every layer but the output layer in
  bfloat16 (as Keras's policy of that name does for `build_lenet5`); the
  variables, the output layer, the softmax and the loss stay float32.

Every variable has the replica axis first. Images stay uint8 in memory and
each batch is scaled to [0, 1] inside the step. With augmentation
(lenet_bench.trainers.augmentation) each replica's batch is augmented on its own,
with its run's seed, in a graph function run right before the step (so the
replicas no longer share conv1's input).

Speed: 13,993 images/s on fashion_mnist:128 with oneDNN on, 5.29x plain Keras fit with
    TensorFlow's defaults (2,647 images/s), 2.54x with oneDNN on in both; 10 runs x 1 epoch
    as one group of 10 replicas, test evaluation included, on a 2-core AMD EPYC CPU
    (benchmarks/fused_speed.json)
Speed: 9,989 images/s on fashion_mnist:32 with oneDNN on, 6.22x plain Keras fit with
    TensorFlow's defaults (1,607 images/s); 10 runs x 1 epoch as one group of 10 replicas,
    test evaluation included, on a 2-core AMD EPYC CPU (benchmarks/fused_speed.json)
Speed: 11,152 images/s on cifar10:128 with oneDNN on, 5.93x plain Keras fit with
    TensorFlow's defaults (1,880 images/s); 10 runs x 1 epoch as one group of 10 replicas,
    test evaluation included, on a 2-core AMD EPYC CPU (benchmarks/fused_speed.json)
Speed: 62.3 s for the whole process of 10 runs x 1 epoch at batch 128 on Fashion-MNIST
    (`python -m lenet_bench`: imports, data, training, run files and report), 3.69x plain
    Keras fit (230.1 s), on a 2-core AMD EPYC CPU (benchmarks/whole_process/three_way.txt)
Speed: not yet measured on a GPU: `make bench GPU=tf` runs this trainer there.

Part of the gain over plain `fit` is oneDNN, which the suite turns on and TensorFlow left
off by default on the AMD EPYC measured. Every case, the group-size scan and how they were
run: benchmarks/RESULTS.md#speed-on-cpu.
"""

import keras
import numpy as np
import tensorflow as tf

from lenet_bench.networks import models
from lenet_bench.keras_names import FUSED_TF_OPTIMIZERS as SUPPORTED_OPTIMIZERS
import lenet_bench.trainers.augmentation as augmentation
from lenet_bench.trainers.tf_tracing import AnyBatchSize

ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # Keras 3 defaults.
EVAL_BATCH_SIZE = 1000
LAYER_NAMES = ("conv1", "conv2", "fc1", "fc2", "predictions")


class FusedLeNet5:
    """R LeNet-5 replicas with stacked weights; see the module docstring.

    Args:
      initial_weights: per replica, `build_lenet5(...).get_weights()` (kernel
        and bias of conv1, conv2, fc1, fc2, predictions).
      image_shape: (height, width, channels).
      num_classes: width of the softmax output.
      optimizer: 'adam', 'sgd' or 'sgd_momentum' (Keras defaults, momentum
        models.SGD_MOMENTUM; the learning rate is given per epoch to `train_epoch`).
      activation: hidden-layer activation name, as for build_lenet5.
      first_conv_padding: 'same', 'valid' or 'auto', as for build_lenet5.
      precision: 'float32' or 'mixed_bfloat16', as for build_lenet5.
      jit_compile: XLA for the steps; None: on with a GPU, off on CPU (where
        it measured slower for this graph).
      augment: per replica, its augmentation settings; None or all off: none.
    """

    def __init__(self, initial_weights: list[list[np.ndarray]], image_shape: tuple[int, int, int],
                 num_classes: int, *, optimizer: str = "adam", activation: str = "relu",
                 first_conv_padding: str = "auto", precision: str = "float32",
                 jit_compile: bool | None = None,
                 augment: list[augmentation.AugmentSettings] | None = None):
        if optimizer not in SUPPORTED_OPTIMIZERS:
            raise ValueError(f"optimizer {optimizer!r} is not one of {SUPPORTED_OPTIMIZERS}")
        if first_conv_padding == "auto":
            first_conv_padding = "same" if min(image_shape[:2]) < 32 else "valid"
        if jit_compile is None:
            jit_compile = bool(tf.config.list_physical_devices("GPU"))
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.optimizer = optimizer
        self.activation_name = activation
        self.first_conv_padding = first_conv_padding
        self.precision = precision
        self.compute_dtype = tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32
        self.activation = keras.activations.get(activation)
        self.num_replicas = len(initial_weights)
        stacked = [np.stack([np.asarray(weights[i], dtype=np.float32)
                             for weights in initial_weights]) for i in range(10)]
        self.weights = [tf.Variable(value, name=f"{LAYER_NAMES[i // 2]}_{'kernel' if i % 2 == 0 else 'bias'}")
                        for i, value in enumerate(stacked)]
        self.slots = []
        if optimizer == "adam":
            self.slots = [tf.Variable(tf.zeros_like(w), name=f"{w.name.split(':')[0]}_{slot}")
                          for slot in ("m", "v") for w in self.weights]
        elif optimizer == "sgd_momentum":
            self.slots = [tf.Variable(tf.zeros_like(w), name=f"{w.name.split(':')[0]}_momentum")
                          for w in self.weights]
        self.iterations = tf.Variable(0, dtype=tf.int64, name="iterations")
        self.learning_rates = tf.Variable(tf.zeros([self.num_replicas]), name="learning_rates")
        self.loss_sum = tf.Variable(tf.zeros([self.num_replicas], tf.float64))
        self.correct_sum = tf.Variable(tf.zeros([self.num_replicas], tf.int64))
        self.clean_correct_sum = tf.Variable(tf.zeros([self.num_replicas], tf.int64))
        # One trace each for every batch size (a smaller last batch included).
        self._shared_step = AnyBatchSize(tf.function(self._train_step, jit_compile=jit_compile),
                                         (0, 1, 1))  # images (B, ...), labels (R, B)
        self._separate_step = AnyBatchSize(
            tf.function(self._train_step_separate, jit_compile=jit_compile), (1, 1, 1))
        self._eval_step = AnyBatchSize(
            tf.function(self._evaluate_step, jit_compile=jit_compile), (0, 0))
        self.augmenter = None
        if augment and any(settings.on for settings in augment):
            self.augmenter = augmentation.Augmenter(augment)

    # ------------------------------------------------------------------ model

    def _forward_after_conv1(self, pooled_per_replica):
        """conv1 -> pool output, one (B, h, w, 6) tensor per replica -> logits (R, B, K)."""
        conv2_kernel, conv2_bias = self._compute(self.weights[2]), self._compute(self.weights[3])
        flat = []
        for r, x in enumerate(pooled_per_replica):
            y = tf.nn.conv2d(x, conv2_kernel[r], 1, "VALID") + conv2_bias[r]
            y = tf.nn.max_pool2d(self.activation(y), 2, 2, "VALID")
            flat.append(tf.reshape(y, [tf.shape(y)[0], -1]))
        x = tf.stack(flat)  # (R, B, 400)
        for layer in (2, 3):
            kernel = self._compute(self.weights[2 * layer])
            bias = self._compute(self.weights[2 * layer + 1])
            x = self.activation(tf.einsum("rbi,rio->rbo", x, kernel) + bias[:, None, :])
        x = tf.cast(x, tf.float32)  # The output layer is float32 in every precision.
        return tf.einsum("rbi,rio->rbo", x, self.weights[8]) + self.weights[9][:, None, :]

    def _compute(self, tensor):
        """`tensor` in the compute dtype (a no-op for float32)."""
        return tf.cast(tensor, self.compute_dtype)

    def _forward_shared(self, images):
        """One batch (B, H, W, C) uint8 seen by every replica -> logits (R, B, K)."""
        kernel = self._compute(self.weights[0])  # (R, 5, 5, C, 6)
        bias = self._compute(self.weights[1])  # (R, 6)
        inputs = self._compute(tf.cast(images, tf.float32) / 255.0)
        filters = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]),
                             [5, 5, self.image_shape[2], self.num_replicas * 6])
        y = tf.nn.conv2d(inputs, filters, 1, self.first_conv_padding.upper())
        y = tf.nn.max_pool2d(self.activation(y + tf.reshape(bias, [-1])), 2, 2, "VALID")
        return self._forward_after_conv1(tf.split(y, self.num_replicas, axis=-1))

    def _forward_separate(self, images):
        """Each replica its own batch: (R, B, H, W, C) uint8 -> logits (R, B, K)."""
        kernel, bias = self._compute(self.weights[0]), self._compute(self.weights[1])
        if not images.dtype.is_floating:  # Augmented batches come in float, scaled.
            images = tf.cast(images, tf.float32) / 255.0
        inputs = self._compute(images)
        return self._forward_after_conv1([
            tf.nn.max_pool2d(self.activation(
                tf.nn.conv2d(inputs[r], kernel[r], 1, self.first_conv_padding.upper()) + bias[r]),
                2, 2, "VALID")
            for r in range(self.num_replicas)])

    @staticmethod
    def _crossentropy(logits, labels, num_classes):
        """Per-example loss as keras.losses.categorical_crossentropy computes it for a
        softmax output: Keras 3 uses the softmax's logits when it can, so no clipping."""
        return tf.nn.softmax_cross_entropy_with_logits(tf.one_hot(labels, num_classes), logits)

    # ------------------------------------------------------------ training

    def _apply_gradients(self, gradients):
        self.iterations.assign_add(1)
        for index, (variable, gradient) in enumerate(zip(self.weights, gradients)):
            rate = tf.reshape(self.learning_rates, [-1] + [1] * (len(variable.shape) - 1))
            if self.optimizer == "sgd":
                variable.assign_sub(rate * gradient)
                continue
            if self.optimizer == "sgd_momentum":  # Keras SGD: m = momentum m - lr g; w += m.
                velocity = self.slots[index]
                velocity.assign(models.SGD_MOMENTUM * velocity - rate * gradient)
                variable.assign_add(velocity)
                continue
            m, v = self.slots[index], self.slots[len(self.weights) + index]
            step = tf.cast(self.iterations, tf.float32)
            alpha = rate * tf.sqrt(1 - ADAM_BETA_2 ** step) / (1 - ADAM_BETA_1 ** step)
            m.assign_add((gradient - m) * (1 - ADAM_BETA_1))
            v.assign_add((tf.square(gradient) - v) * (1 - ADAM_BETA_2))
            variable.assign_sub(alpha * m / (tf.sqrt(v) + ADAM_EPSILON))

    def _train(self, forward, images, labels, clean_labels):
        """labels, clean_labels: (R, B) int."""
        with tf.GradientTape() as tape:
            logits = forward(images)
            losses = self._crossentropy(logits, labels, self.num_classes)  # (R, B)
            # Replica r's parameters only touch its own term, so the gradient of
            # the sum is each replica's own mean-loss gradient.
            total = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
        self._apply_gradients(tape.gradient(total, self.weights))
        predicted = tf.argmax(logits, axis=-1, output_type=labels.dtype)
        self.loss_sum.assign_add(tf.reduce_sum(tf.cast(losses, tf.float64), axis=1))
        self.correct_sum.assign_add(tf.reduce_sum(tf.cast(predicted == labels, tf.int64), axis=1))
        self.clean_correct_sum.assign_add(
            tf.reduce_sum(tf.cast(predicted == clean_labels, tf.int64), axis=1))

    def _train_step(self, images, labels, clean_labels):
        self._train(self._forward_shared, images, labels, clean_labels)

    def _train_step_separate(self, images, labels, clean_labels):
        self._train(self._forward_separate, images, labels, clean_labels)

    def train_epoch(self, images: np.ndarray, labels: np.ndarray, orders: np.ndarray,
                    batch_size: int, learning_rates, clean_labels: np.ndarray | None = None,
                    *, seeds=None, epoch: int = 0) -> dict[str, np.ndarray]:
        """One epoch: replica r trains on batches orders[r][i*b:(i+1)*b] of (images, labels[r]).

        The last, smaller batch is trained too. With augmentation, replica r's
        batch i is augmented with `augmentation.step_seed(seeds[r], epoch, i)`
        (seeds default to 0 .. R - 1). Returns float64 arrays (R,):
        'loss' (mean training cross-entropy over the epoch's steps, as Keras
        fit reports it), 'accuracy' (against labels[r]) and 'clean_accuracy'
        (against clean_labels; equal to 'accuracy' if None).
        """
        labels = np.asarray(labels)
        orders = np.asarray(orders)
        clean = labels if clean_labels is None else np.broadcast_to(clean_labels, labels.shape)
        self.learning_rates.assign(np.asarray(learning_rates, dtype=np.float32))
        for variable in (self.loss_sum, self.correct_sum, self.clean_correct_sum):
            variable.assign(tf.zeros_like(variable))
        shared = bool((orders == orders[0]).all()) and self.augmenter is None
        seeds = range(self.num_replicas) if seeds is None else seeds
        rows = np.arange(self.num_replicas)[:, None]
        count = orders.shape[1]
        for start in range(0, count, batch_size):
            batch = orders[:, start:start + batch_size]
            if self.augmenter is not None:
                step_seeds = np.stack([augmentation.step_seed(seed, epoch, start // batch_size)
                                       for seed in seeds])
                self._separate_step(self.augmenter.augment_replicas(images[batch], step_seeds),
                                    labels[rows, batch], clean[rows, batch])
            elif shared:
                self._shared_step(images[batch[0]], labels[:, batch[0]], clean[:, batch[0]])
            else:
                self._separate_step(images[batch], labels[rows, batch], clean[rows, batch])
        return {"loss": self.loss_sum.numpy() / count,
                "accuracy": self.correct_sum.numpy() / count,
                "clean_accuracy": self.clean_correct_sum.numpy() / count}

    # ---------------------------------------------------------- evaluation

    def _evaluate_step(self, images, labels):
        logits = self._forward_shared(images)
        probabilities = tf.nn.softmax(logits)
        losses = self._crossentropy(logits, tf.broadcast_to(labels, tf.shape(logits)[:2]),
                                    self.num_classes)
        one_hot = tf.one_hot(labels, self.num_classes)  # (B, K)
        return (tf.reduce_sum(tf.cast(losses, tf.float64), axis=1),
                tf.argmax(probabilities, axis=-1), tf.reduce_max(probabilities, axis=-1),
                probabilities, tf.reduce_sum(probabilities * one_hot, axis=[1, 2]),
                tf.einsum("bi,rbj->rij", one_hot, probabilities))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Softmax probabilities (R, N, K) of every replica, in inference mode."""
        return np.concatenate([self._eval_step(images[start:start + EVAL_BATCH_SIZE],
                                               np.zeros(len(images[start:start + EVAL_BATCH_SIZE]),
                                                        np.int64))[3].numpy()
                               for start in range(0, len(images), EVAL_BATCH_SIZE)], axis=1)

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        """Returns 'loss' and 'accuracy' (R,), 'predictions' (R, N) and 'confidence' (R, N),
        the max softmax probability, 'soft_accuracy' (R,), the mean probability at the
        true label, and 'soft_confusion_sums' (R, K, K), one_hot(labels)^T @ probabilities
        (see analysis.soft_confusion)."""
        loss, soft_true = np.zeros(self.num_replicas), np.zeros(self.num_replicas)
        soft_sums = np.zeros((self.num_replicas, self.num_classes, self.num_classes))
        predicted, confidence = [], []
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            batch_labels = np.asarray(labels[start:start + EVAL_BATCH_SIZE], dtype=np.int64)
            (batch_loss, batch_predicted, batch_confidence, _, batch_soft_true,
             batch_soft_sums) = self._eval_step(images[start:start + EVAL_BATCH_SIZE],
                                                batch_labels)
            loss += batch_loss.numpy()
            soft_true += batch_soft_true.numpy()
            soft_sums += batch_soft_sums.numpy()
            predicted.append(batch_predicted.numpy())
            confidence.append(batch_confidence.numpy())
        predicted = np.concatenate(predicted, axis=1)
        return {"loss": loss / len(labels),
                "accuracy": (predicted == np.asarray(labels)[None, :]).mean(axis=1),
                "predictions": predicted, "confidence": np.concatenate(confidence, axis=1),
                "soft_accuracy": soft_true / len(labels), "soft_confusion_sums": soft_sums}

    # ------------------------------------------------------ weights, state

    def get_weights(self, replica: int) -> list[np.ndarray]:
        """The replica's weights in `build_lenet5(...).get_weights()` order and shapes."""
        return [variable[replica].numpy() for variable in self.weights]

    def set_weights(self, replica: int, weights: list[np.ndarray]) -> None:
        for variable, value in zip(self.weights, weights):
            variable[replica].assign(np.asarray(value, dtype=np.float32))

    def get_state(self) -> dict[str, np.ndarray]:
        """Weights, optimizer slots and the step counter, for a checkpoint."""
        state = {f"weight{i}": variable.numpy() for i, variable in enumerate(self.weights)}
        state.update({f"slot{i}": variable.numpy() for i, variable in enumerate(self.slots)})
        state["iterations"] = self.iterations.numpy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        for i, variable in enumerate(self.weights):
            variable.assign(state[f"weight{i}"])
        for i, variable in enumerate(self.slots):
            variable.assign(state[f"slot{i}"])
        self.iterations.assign(state["iterations"])

    def to_keras_model(self, replica: int) -> keras.Model:
        """The replica as the standard functional LeNet-5 (saveable as `.keras`)."""
        model = models.build_lenet5(self.image_shape, self.num_classes,
                                    activation=self.activation_name,
                                    first_conv_padding=self.first_conv_padding,
                                    precision=self.precision)
        model.set_weights(self.get_weights(replica))
        return model
