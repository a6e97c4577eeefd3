"""LeNet-style networks for R replicas at once, written as batched matrix products.

`jax.vmap` of a Keras model's `stateless_call` turns each convolution into a
grouped convolution (one group per replica, 1-16 channels each), which XLA
runs slowly on a CPU and under-fills on a GPU. Here a convolution is what it
is arithmetically: image patches (B*H*W, k*k*C) times a kernel (k*k*C, F),
and R replicas are one `einsum` with the replica axis as a batch dimension.
Patches come from strided slices in a channels-first layout (cheap to
differentiate: the transpose of a slice is a pad), max pooling is the
maximum of strided slices. At a tie the gradient is split between the tied
inputs where Keras's pooling gives it to one; the weight gradients still
agree where the tied inputs come from equal patches (zero borders and
backgrounds), and ties between different patches are float coincidences.

The network is the Keras model's (models.build_model), weight for weight,
for the architectures `supports` accepts: convolutions with any kernel,
stride, dilation and same/valid padding, max pooling, dense layers, any
Keras activation, L2 on the kernels; no batch normalization, no dropout,
float32 only. The weights are the model's trainable variables, in their
order, each with a leading replica axis.
"""

import dataclasses

import jax
import jax.numpy as jnp
import keras

from lenet_bench import architectures
from lenet_bench.trainers.steps_jax import correct_count, cross_entropy, scaled_images


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    kernel_size: int
    stride: int
    dilation: int
    padding: str  # 'same' or 'valid'.


@dataclasses.dataclass(frozen=True)
class Network:
    """What the batched forward pass computes: conv layers, then dense layers."""

    convs: tuple[ConvLayer, ...]
    pool_size: int
    dense_count: int  # Hidden dense layers; the softmax layer comes after them.
    activation: str
    l2: float


def supports(spec) -> bool:
    """Whether `network_of` can describe the model of `spec` (a runs.RunSpec)."""
    return (not spec.batch_norm and not spec.dropout and spec.precision == "float32"
            and not any(architectures.resolve(spec.architecture, activation=spec.activation,
                                              l2=spec.l2).dense_dropout()))


def network_of(spec, image_shape) -> Network:
    """The Network of a run's model (as models.build_run_model builds it)."""
    architecture = architectures.resolve(spec.architecture, activation=spec.activation,
                                         l2=spec.l2)
    first_padding = spec.first_conv_padding
    if first_padding == "auto":
        first_padding = "same" if min(image_shape[:2]) < 32 else "valid"
    convs = tuple(
        ConvLayer(kernel, stride, dilation, first_padding if padding == "auto" else padding)
        for kernel, stride, dilation, padding in zip(
            architecture.per_conv("kernel_size"), architecture.per_conv("conv_strides"),
            architecture.per_conv("conv_dilation"), architecture.per_conv("conv_padding")))
    return Network(convs, architecture.pool_size, len(architecture.dense_units),
                   architecture.activation, architecture.l2)


def _same_padding(size: int, span: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of Keras/TensorFlow 'same' on one axis."""
    total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def patches(x, layer: ConvLayer):
    """Patches of x (..., C, B, H, W) for `layer`: (..., C*k*k, B*Ho*Wo), rows ordered
    (c, kh, kw), columns (b, ho, wo).

    Channels lead and the image's width is the minor axis ("CNHW"): each of the
    k*k slices is then a copy of whole rows, and its transpose in the gradient a
    pad of whole rows, both measured faster on a CPU than the channels-last
    layout, whose slices interleave C values at a stride of k*k*C.
    """
    span = (layer.kernel_size - 1) * layer.dilation + 1
    if layer.padding == "same":
        pads = [_same_padding(size, span, layer.stride) for size in x.shape[-2:]]
        x = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + pads)
    height, width = ((size - span) // layer.stride + 1 for size in x.shape[-2:])
    pieces = [
        jax.lax.slice_in_dim(
            jax.lax.slice_in_dim(x, i * layer.dilation,
                                 i * layer.dilation + (height - 1) * layer.stride + 1,
                                 layer.stride, axis=x.ndim - 2),
            j * layer.dilation, j * layer.dilation + (width - 1) * layer.stride + 1,
            layer.stride, axis=x.ndim - 1)
        for i in range(layer.kernel_size) for j in range(layer.kernel_size)]
    stacked = jnp.stack(pieces, axis=x.ndim - 3)  # (..., C, k*k, B, Ho, Wo)
    lead = x.shape[:-4]
    return stacked.reshape(*lead, -1, x.shape[-3] * height * width), (height, width)


def max_pool(x, size: int):
    """Max pooling of x (..., H, W) over size x size windows, stride size (Keras
    MaxPooling2D, 'valid': a remainder row or column is dropped), as the maximum of
    size*size strided slices."""
    if size == 1:
        return x
    height, width = x.shape[-2] // size * size, x.shape[-1] // size * size
    pooled = None
    for i in range(size):
        for j in range(size):
            piece = x[..., i:height:size, j:width:size]
            pooled = piece if pooled is None else jnp.maximum(pooled, piece)
    return pooled


def conv(layer: ConvLayer, x, kernel, shared_images: bool = False):
    """Replica r's convolution of x[r] (C, B, H, W) with kernel[r] (k, k, C, F), no
    bias: (R, F, B, Ho, Wo). With shared_images, x (C, B, H, W) is every replica's."""
    columns, (height, width) = patches(x, layer)
    rows = jnp.transpose(kernel, (0, 4, 3, 1, 2)).reshape(kernel.shape[0], kernel.shape[-1], -1)
    out = jnp.einsum("rfk,kn->rfn" if shared_images else "rfk,rkn->rfn", rows, columns)
    return out.reshape(*out.shape[:2], x.shape[-3], height, width)


def forward(network: Network, weights, images, shared_images: bool = False):
    """Softmax probabilities (R, B, K) of R replicas.

    Args:
      network: the architecture.
      weights: the model's trainable variables in order, each (R, ...).
      images: float32 (R, B, H, W, C), replica r's own batch; or (B, H, W, C) seen
        by every replica when shared_images (evaluation): the first convolution
        is then one matrix product with R*F rows.
    """
    activation = keras.activations.get(network.activation)
    replicas = len(weights[0])
    weights = iter(weights)
    x = jnp.moveaxis(images, -1, -4)  # (..., C, B, H, W)
    for number, layer in enumerate(network.convs):
        kernel, bias = next(weights), next(weights)
        x = conv(layer, x, kernel, shared_images=number == 0 and shared_images)
        x = max_pool(activation(x + bias[:, :, None, None, None]), network.pool_size)
    if shared_images and not network.convs:
        x = jnp.broadcast_to(x, (replicas,) + x.shape)
    x = jnp.moveaxis(x, 1, -1)  # (R, B, H, W, C): Keras's Flatten order.
    x = x.reshape(x.shape[0], x.shape[1], -1)
    for number in range(network.dense_count + 1):
        kernel, bias = next(weights), next(weights)
        x = jnp.einsum("rbi,rio->rbo", x, kernel) + bias[:, None, :]
        x = activation(x) if number < network.dense_count else jax.nn.softmax(x, axis=-1)
    return x


def l2_penalty(network: Network, weights):
    """Per replica (R,): the Keras L2 regularizers' loss, l2 * sum(kernel**2) per kernel."""
    if not network.l2:
        return 0.0
    kernels = weights[0::2]
    return sum(network.l2 * jnp.sum(jnp.square(kernel), axis=tuple(range(1, kernel.ndim)))
               for kernel in kernels)


def make_batched_train_step(network: Network, optimizer: keras.optimizers.Optimizer,
                            num_classes: int):
    """A pure, untraced train step of R replicas, the contract of `jax.vmap` of
    steps_jax.make_train_step: step(state, images uint8 (R, B, H, W, C), labels (R, B),
    clean_labels (R, B)) -> (state, (cross-entropy sums, correct, clean correct), each (R,)).

    Replica r's loss is its batch's mean cross-entropy plus its L2 term; the summed
    loss has replica r's gradient in replica r's slice, since replicas share nothing.
    The optimizer's `stateless_apply` is vmapped (elementwise arithmetic per replica).
    """
    apply = jax.vmap(optimizer.stateless_apply)

    def step(state, images, labels, clean_labels):
        trainable, non_trainable, optimizer_values = state
        inputs = scaled_images(images)

        def objective(trainable):
            probabilities = forward(network, trainable, inputs)
            losses = cross_entropy(probabilities, labels, num_classes)
            loss = jnp.mean(losses, axis=1) + l2_penalty(network, trainable)
            return jnp.sum(loss), (probabilities, jnp.sum(losses, axis=1))

        (_, (probabilities, loss_sums)), gradients = jax.value_and_grad(
            objective, has_aux=True)(trainable)
        trainable, optimizer_values = apply(optimizer_values, gradients, trainable)
        return ((trainable, non_trainable, optimizer_values),
                (loss_sums, correct_count(probabilities, labels),
                 correct_count(probabilities, clean_labels)))

    return step


def make_batched_eval_step(network: Network, num_classes: int):
    """A pure eval step of R replicas on shared images, the contract of `jax.vmap` of
    steps_jax.make_eval_step with in_axes (0, 0, None, None): eval_step(trainable,
    non_trainable, images uint8 (B, H, W, C), labels (B,)) -> per replica (leading R):
    cross-entropy sum, correct, predicted classes, max probabilities, sum of the
    probabilities at the true labels, KxK one_hot(labels)^T @ probabilities."""

    def eval_step(trainable, non_trainable, images, labels):
        probabilities = forward(network, trainable, scaled_images(images), shared_images=True)
        one_hot = jax.nn.one_hot(labels, num_classes)
        every_label = jnp.broadcast_to(labels, probabilities.shape[:2])
        return (jnp.sum(cross_entropy(probabilities, every_label, num_classes), axis=1),
                correct_count(probabilities, labels), jnp.argmax(probabilities, axis=-1),
                jnp.max(probabilities, axis=-1), jnp.sum(one_hot * probabilities, axis=(1, 2)),
                jnp.einsum("bk,rbl->rkl", one_hot, probabilities))

    return eval_step


def in_chunks(step, replicas: int, chunk: int):
    """`step` (a batched train step) run on `chunk` replicas at a time, one chunk after
    another (`lax.map`), when `chunk` divides `replicas`; else one replica at a time.

    Why: on a CPU, 12 replicas in one product trained 0.64x the rate of 2 at a time
    (benchmarks/profile/jax_replica_chunks.txt): a chunk's patches stay in the caches.
    The arithmetic of each replica is unchanged.
    """
    chunk = chunk if replicas % chunk == 0 else 1
    if chunk >= replicas:
        return step

    def chunked_step(*arguments):
        split = jax.tree.map(lambda x: x.reshape(replicas // chunk, chunk, *x.shape[1:]),
                             arguments)
        out = jax.lax.map(lambda pieces: step(*pieces), split)
        return jax.tree.map(lambda x: x.reshape(replicas, *x.shape[2:]), out)

    return chunked_step
