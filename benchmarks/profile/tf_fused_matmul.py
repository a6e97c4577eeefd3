"""The fused TensorFlow train step (fused_tf.FusedLeNet5) against batched-matrix
formulations of its convolutions: patches x kernel with the replica axis as the
batch axis of one product (as lenet_matmul_jax does on JAX).

    python benchmarks/profile/tf_fused_matmul.py [REPLICAS] [IMAGES] [VARIANTS] [CASES]
    python benchmarks/profile/tf_fused_matmul.py 12 12800
    python benchmarks/profile/tf_fused_matmul.py breakdown 12 128   # conv2's pieces alone

Variants (each a FusedLeNet5 whose forward pass is replaced; the loss, the
gradient tape, Adam with one learning rate per replica and the epoch loop are
the class's own):

  current        FusedLeNet5 itself: conv1 one convolution with R x 6 filters
                 (shared order) or one per replica; conv2 one convolution per replica.
  c2_slices      conv2 as patches (25 strided slices, channels last) x kernel,
                 one einsum over the replicas; pooling as now (max_pool2d).
  c2_slices_cf   the same with channels first, (R, C, B, H, W): each slice copies whole
                 image rows (the layout lenet_matmul_jax measured faster); pooling as a
                 maximum of 4 strided slices.
  c2_extract     conv2 patches by tf.image.extract_patches, then the einsum.
  c2_rmax        c2_slices with pooling as reshape + reduce_max.
  c2_xla_part    c2_slices with the conv2 block (patches, product, bias, activation,
                 pooling) in a nested tf.function(jit_compile=True).
  c2_cf_xla_part c2_slices_cf, its conv2 block in a nested XLA function likewise.
  c12_slices     c2_slices and conv1 as patches x kernel too (shared order: one product
                 with R x 6 columns; own orders: one einsum over the replicas).
  c12_xla_step   c12_slices with the whole step under XLA (jit_compile=True).

Cases: batch 128 and 32, the replicas sharing one data order (runs of one seed)
or each its own. Random uint8 images of Fashion-MNIST's shape (28x28x1, conv1
'same'), 10 classes, Adam. oneDNN on (TF_ENABLE_ONEDNN_OPTS=1, set here before
TensorFlow starts), 2 intra- and inter-op threads. Each variant is first
checked against `current` (logits and weight gradients of the first batch,
from the same weights), then its first epoch (tracing included) is timed and
reported apart, then two more epochs per variant, interleaved; the ratio is
against `current` in the same round.
"""
import os
import sys
import time

os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lenet_bench import machine  # noqa: E402

machine.configure_threads(2)

from lenet_bench.networks import models  # noqa: E402
from lenet_bench.trainers import fused_tf  # noqa: E402

SHAPE, CLASSES = (28, 28, 1), 10
VARIANTS = {  # name: (conv1, conv2, pooling, xla)
    "current": None,
    "c2_slices": ("conv", "slices", "max_pool2d", "none"),
    "c2_slices_cf": ("conv", "slices_cf", "slices", "none"),
    "c2_extract": ("conv", "extract", "max_pool2d", "none"),
    "c2_rmax": ("conv", "slices", "reduce_max", "none"),
    "c2_xla_part": ("conv", "slices", "max_pool2d", "part"),
    "c2_cf_xla_part": ("conv", "slices_cf", "slices", "part"),
    "c12_slices": ("slices", "slices", "max_pool2d", "none"),
    "c12_xla_step": ("slices", "slices", "max_pool2d", "step"),
}


def _patches_nhwc(x, size, height, width):
    """x (..., H, W, C) -> (..., height, width, size*size*C), rows (kh, kw, c) as a
    Keras kernel (kh, kw, C, F) reshapes; by strided slices."""
    pieces = [x[..., i:i + height, j:j + width, :] for i in range(size) for j in range(size)]
    stacked = tf.stack(pieces, axis=-2)  # (..., height, width, k*k, C)
    return tf.reshape(stacked, tf.concat([tf.shape(stacked)[:-2], [-1]], 0))


class MatmulLeNet5(fused_tf.FusedLeNet5):
    """FusedLeNet5 with its convolutions as batched matrix products (see the module docstring)."""

    def __init__(self, weights, image_shape, num_classes, conv1, conv2, pooling, xla):
        self.conv1_form, self.conv2_form, self.pooling = conv1, conv2, pooling
        super().__init__(weights, image_shape, num_classes, jit_compile=xla == "step")
        self._conv2_block = (tf.function(self._conv2, jit_compile=True) if xla == "part"
                             else self._conv2)

    def _pool(self, y):
        """Max pooling 2x2 of y (N, H, W, F)."""
        if self.pooling == "max_pool2d":
            return tf.nn.max_pool2d(y, 2, 2, "VALID")
        n, h, w, f = tf.shape(y)[0], y.shape[1], y.shape[2], y.shape[3]
        return tf.reduce_max(tf.reshape(y, [n, h // 2, 2, w // 2, 2, f]), axis=[2, 4])

    def _conv2(self, x, kernel, bias):
        """x (R, B, H, W, C) after conv1's pooling -> flattened conv2 block (R, B, 400)."""
        replicas, batch = self.num_replicas, tf.shape(x)[1]
        size, filters = kernel.shape[1], kernel.shape[-1]
        height, width = x.shape[2] - size + 1, x.shape[3] - size + 1
        if self.conv2_form == "slices_cf":
            xc = tf.transpose(x, [0, 4, 1, 2, 3])  # (R, C, B, H, W)
            pieces = [xc[..., i:i + height, j:j + width] for i in range(size) for j in range(size)]
            columns = tf.reshape(tf.stack(pieces, axis=2), [replicas, -1, batch * height * width])
            rows = tf.reshape(tf.transpose(kernel, [0, 4, 3, 1, 2]), [replicas, filters, -1])
            y = tf.einsum("rfk,rkn->rfn", rows, columns) + bias[:, :, None]
            y = self.activation(tf.reshape(y, [replicas, filters, batch, height, width]))
            h2, w2 = height // 2 * 2, width // 2 * 2
            y = tf.reduce_max(tf.stack([y[..., i:h2:2, j:w2:2] for i in range(2) for j in range(2)]),
                              axis=0)  # (R, F, B, h, w)
            return tf.reshape(tf.transpose(y, [0, 2, 3, 4, 1]), [replicas, batch, -1])
        if self.conv2_form == "extract":
            flat = tf.reshape(x, [-1, *x.shape[2:]])
            columns = tf.image.extract_patches(flat, [1, size, size, 1], [1, 1, 1, 1],
                                               [1, 1, 1, 1], "VALID")
        else:
            columns = _patches_nhwc(x, size, height, width)
        columns = tf.reshape(columns, [replicas, -1, size * size * x.shape[-1]])
        y = tf.einsum("rnk,rkf->rnf", columns, tf.reshape(kernel, [replicas, -1, filters]))
        y = self.activation(y + bias[:, None, :])
        y = self._pool(tf.reshape(y, [-1, height, width, filters]))
        return tf.reshape(y, [replicas, batch, -1])

    def _dense(self, x):
        for layer in (2, 3):
            kernel = self._compute(self.weights[2 * layer])
            bias = self._compute(self.weights[2 * layer + 1])
            x = self.activation(tf.einsum("rbi,rio->rbo", x, kernel) + bias[:, None, :])
        return tf.einsum("rbi,rio->rbo", x, self.weights[8]) + self.weights[9][:, None, :]

    def _after_conv1(self, pooled):
        """pooled (R, B, h, w, 6) -> logits (R, B, K)."""
        return self._dense(self._conv2_block(pooled, self.weights[2], self.weights[3]))

    def _conv1_padded(self, inputs):
        if self.first_conv_padding == "same":
            paddings = [[0, 0]] * (inputs.shape.rank - 3) + [[2, 2], [2, 2], [0, 0]]
            inputs = tf.pad(inputs, paddings)
        return inputs

    def _forward_shared(self, images):
        replicas, batch = self.num_replicas, tf.shape(images)[0]
        kernel, bias = self.weights[0], self.weights[1]
        inputs = tf.cast(images, tf.float32) / 255.0
        if self.conv1_form == "conv":
            filters = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]),
                                 [5, 5, self.image_shape[2], replicas * 6])
            y = tf.nn.conv2d(inputs, filters, 1, self.first_conv_padding.upper())
        else:
            padded = self._conv1_padded(inputs)
            height, width = padded.shape[1] - 4, padded.shape[2] - 4
            columns = tf.reshape(_patches_nhwc(padded, 5, height, width), [-1, 25 * padded.shape[-1]])
            filters = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [-1, replicas * 6])
            y = tf.reshape(tf.matmul(columns, filters), [batch, height, width, replicas * 6])
        y = tf.nn.max_pool2d(self.activation(y + tf.reshape(bias, [-1])), 2, 2, "VALID")
        y = tf.reshape(y, [batch, y.shape[1], y.shape[2], replicas, 6])
        return self._after_conv1(tf.transpose(y, [3, 0, 1, 2, 4]))

    def _forward_separate(self, images):
        replicas, batch = self.num_replicas, tf.shape(images)[1]
        kernel, bias = self.weights[0], self.weights[1]
        inputs = tf.cast(images, tf.float32) / 255.0
        if self.conv1_form == "conv":
            return self._after_conv1(tf.stack([
                tf.nn.max_pool2d(self.activation(
                    tf.nn.conv2d(inputs[r], kernel[r], 1, self.first_conv_padding.upper()) + bias[r]),
                    2, 2, "VALID") for r in range(replicas)]))
        padded = self._conv1_padded(inputs)
        height, width = padded.shape[2] - 4, padded.shape[3] - 4
        columns = tf.reshape(_patches_nhwc(padded, 5, height, width), [replicas, -1, 25 * padded.shape[-1]])
        y = tf.einsum("rnk,rkf->rnf", columns, tf.reshape(kernel, [replicas, -1, 6]))
        y = self.activation(y + bias[:, None, :])
        y = tf.nn.max_pool2d(tf.reshape(y, [-1, height, width, 6]), 2, 2, "VALID")
        return self._after_conv1(tf.reshape(y, [replicas, batch, *y.shape[1:]]))


def gradients(group, images, labels, orders, batch, order):
    """Logits and weight gradients of the summed per-replica mean loss, first batch."""
    rows = np.arange(group.num_replicas)[:, None]
    first = orders[:, :batch]
    with tf.GradientTape() as tape:
        if order == "shared":
            logits = group._forward_shared(tf.constant(images[first[0]]))
        else:
            logits = group._forward_separate(tf.constant(images[first]))
        losses = group._crossentropy(logits, tf.constant(labels[rows, first]), CLASSES)
        total = tf.reduce_sum(tf.reduce_mean(losses, axis=1))
    return [logits.numpy()] + [g.numpy() for g in tape.gradient(total, group.weights)]


def build(name, weights):
    if VARIANTS[name] is None:
        return fused_tf.FusedLeNet5(weights, SHAPE, CLASSES)
    return MatmulLeNet5(weights, SHAPE, CLASSES, *VARIANTS[name])


def breakdown(replicas, batch, repeats=20):
    """Whole train steps (one batch, shared order), then forward + backward time of
    conv2's pieces alone on conv1's pooled output (R, B, 14, 14, 6), with and without
    XLA: where the matrix formulation spends its time."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((replicas, batch, 14, 14, 6)), tf.float32)
    kernel = tf.constant(rng.standard_normal((replicas, 5, 5, 6, 16)) * 0.1, tf.float32)
    upstream = tf.constant(rng.standard_normal((replicas, batch * 100, 16)), tf.float32)
    patch_upstream = tf.constant(rng.standard_normal((replicas, batch * 100, 150)), tf.float32)
    columns = tf.constant(rng.standard_normal((replicas, batch * 100, 150)), tf.float32)

    def per_replica_conv(x, kernel):
        return tf.stack([tf.nn.conv2d(x[r], kernel[r], 1, "VALID") for r in range(replicas)])

    def slices(x):
        return tf.reshape(_patches_nhwc(x, 5, 10, 10), [replicas, -1, 150])

    def extract(x):
        return tf.reshape(tf.image.extract_patches(tf.reshape(x, [-1, 14, 14, 6]), [1, 5, 5, 1],
                                                   [1, 1, 1, 1], [1, 1, 1, 1], "VALID"),
                          [replicas, -1, 150])

    def product(columns, kernel):
        return tf.einsum("rnk,rkf->rnf", columns, tf.reshape(kernel, [replicas, 150, 16]))

    pieces = {  # name: (function of the inputs, inputs, gradient from above or None: forward only)
        "conv2 as now: R convolutions, fwd+bwd (input, kernel)":
            (per_replica_conv, [x, kernel], tf.reshape(upstream, [replicas, batch, 10, 10, 16])),
        "conv2 patches by slices, fwd+bwd": (slices, [x], patch_upstream),
        "conv2 patches by slices, forward only": (slices, [x], None),
        "conv2 patches by extract_patches, fwd+bwd": (extract, [x], patch_upstream),
        "conv2 patches by extract_patches, forward only": (extract, [x], None),
        "conv2 product einsum (R, 100B, 150) x (R, 150, 16), fwd+bwd":
            (product, [columns, kernel], upstream),
    }
    images = tf.constant(rng.integers(0, 256, (batch, *SHAPE)), tf.uint8)
    labels = tf.constant(rng.integers(0, CLASSES, (replicas, batch)), tf.int64)
    weights = [models.build_lenet5(SHAPE, CLASSES, seed=seed).get_weights() for seed in range(replicas)]
    for name in ("current", "c2_slices", "c2_extract"):
        group = build(name, weights)
        group.learning_rates.assign([0.001] * replicas)
        group._shared_step(images, labels, labels)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            group._shared_step(images, labels, labels)
            group.iterations.numpy()
            times.append(time.perf_counter() - started)
        print(f"  whole train step (shared order), {name:35s} {1e3 * np.median(times):7.1f} ms/step "
              f"(median of {repeats})", flush=True)
    for xla in (False, True):
        for name, (compute, inputs, grad) in pieces.items():
            def run(*inputs, compute=compute, grad=grad):
                if grad is None:
                    return tf.reduce_sum(compute(*inputs))
                with tf.GradientTape() as tape:
                    tape.watch(inputs)
                    out = compute(*inputs)
                # The sum keeps the forward pass: no gradient here needs its output.
                return tape.gradient(out, inputs, output_gradients=grad), tf.reduce_sum(out)
            function = tf.function(run, jit_compile=xla)
            missing = [i for i, g in enumerate(tf.nest.flatten(function(*inputs))) if g is None]
            assert not missing, (name, missing)
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                tf.nest.map_structure(lambda t: t.numpy(), function(*inputs))
                times.append(time.perf_counter() - started)
            print(f"  {'XLA ' if xla else ''}{name:62s} {1e3 * np.median(times):7.1f} ms/step "
                  f"(median of {repeats})", flush=True)


def main():
    if sys.argv[1:2] == ["breakdown"]:
        replicas, batch = int(sys.argv[2]), int(sys.argv[3])
        print(f"breakdown: R={replicas}, batch {batch}, oneDNN {machine.onednn_setting()}, threads 2/2")
        breakdown(replicas, batch)
        return
    replicas = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 12_800
    names = sys.argv[3].split(",") if len(sys.argv) > 3 else list(VARIANTS)
    cases = sys.argv[4].split(",") if len(sys.argv) > 4 else ["128:shared", "128:own", "32:shared", "32:own"]
    if "current" not in names:
        names.insert(0, "current")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, *SHAPE), dtype=np.uint8)
    labels = np.stack([rng.integers(0, CLASSES, count)] * replicas)
    weights = [models.build_lenet5(SHAPE, CLASSES, seed=seed).get_weights() for seed in range(replicas)]
    rates = [0.001 * (1 + r % 3) for r in range(replicas)]
    print(f"tensorflow {tf.__version__}, oneDNN {machine.onednn_setting()}, threads 2/2, "
          f"R={replicas}, {count:,} images {SHAPE}, Adam", flush=True)

    for case in cases:
        batch, order = case.split(":")
        batch = int(batch)
        orders = np.stack([np.random.default_rng(0 if order == "shared" else r).permutation(count)
                           for r in range(replicas)])
        print(f"\ncase batch {batch}, order {order} ({-(-count // batch)} steps/epoch)", flush=True)
        want = gradients(build("current", weights), images, labels, orders, batch, order)
        groups = {}
        for name in names:
            group = build(name, weights)
            if name != "current":
                got = gradients(group, images, labels, orders, batch, order)
                error = max(float(np.max(np.abs(g - w)) / np.max(np.abs(w))) for g, w in zip(got, want))
                print(f"  {name:14s} logits and gradients of the first batch against current: "
                      f"max |diff| / max |want| = {error:.1e}", flush=True)
            started = time.perf_counter()
            group.train_epoch(images, labels, orders, batch, rates)
            seconds = time.perf_counter() - started
            print(f"  {name:14s} first epoch (tracing included) {seconds:6.2f}s "
                  f"{replicas * count / seconds:7.0f} replica-images/s", flush=True)
            groups[name] = group
        speeds = {name: [] for name in names}
        for round_ in range(2):
            for name in names:
                started = time.perf_counter()
                groups[name].train_epoch(images, labels, orders, batch, rates)
                speeds[name].append(replicas * count / (time.perf_counter() - started))
            line = "  ".join(f"{name} {speeds[name][-1]:.0f} ({speeds[name][-1] / speeds['current'][-1]:.2f}x)"
                             for name in names)
            print(f"  round {round_ + 1}: {line}", flush=True)
        print(f"  {'variant':14s} {'replica-images/s':>16s} {'ratio to current':>17s}  (mean of 2 rounds)")
        for name in names:
            mean = np.mean(speeds[name])
            ratios = [s / c for s, c in zip(speeds[name], speeds["current"])]
            print(f"  {name:14s} {mean:16.0f} {np.mean(ratios):16.2f}x", flush=True)


if __name__ == "__main__":
    main()
