"""Data augmentation of training batches with Keras preprocessing layers.

A run's augmentation is random translation, rotation and zoom (and, for
CIFAR-10, horizontal flip), each a `keras.layers.Random*` layer applied to
every training batch, never to validation or test images. It is seeded per
run and per step, not by a running generator: the batch of step i in epoch e
of the run with seed s is augmented with seed (s, e, i) whatever trainer,
group or resume it runs in. So the same run gives the same augmented batches
on the Keras and the fused path, and a resumed run the same as an
uninterrupted one.

Augmentation runs in its own `tf.function` (not XLA: TensorFlow has no XLA
kernel for ImageProjectiveTransformV3, the op behind these layers) on the
batch's uint8 images, and returns that batch in float32 [0, 1]; the dataset
itself stays uint8, with no float copy. It is TensorFlow-only: other backends
refuse the augment_* settings (lenet_bench.backends.require_tensorflow), and
TensorFlow is imported only when an Augmenter is made.
"""

import dataclasses

import keras
import numpy as np

from lenet_bench.config import AUGMENT_FIELDS  # In this class's field order.

FILL_MODE = "constant"  # Pixels shifted in are 0 (black), as the MNIST backgrounds are.
STEPS_PER_EPOCH_BOUND = 2 ** 24  # A run's step seeds stay distinct below this many batches.
SEEDS_PER_STEP = 8  # Each layer draws from its own seed (s, (e * bound + i) * 8 + layer).


@dataclasses.dataclass(frozen=True)
class AugmentSettings:
    """What to augment; every zero/False field is off."""

    translation: float = 0.0  # Up to this fraction of height and width, each way.
    rotation: float = 0.0  # Up to this fraction of a full turn (0.05: 18 degrees), each way.
    zoom: float = 0.0  # Zoom in or out by up to this fraction.
    flip: bool = False  # Random horizontal flip.

    @classmethod
    def of(cls, spec) -> "AugmentSettings":
        """The settings of a RunSpec or ExperimentConfig (its augment_* fields)."""
        return cls(*(getattr(spec, name) for name in AUGMENT_FIELDS))

    @property
    def on(self) -> bool:
        return bool(self.translation or self.rotation or self.zoom or self.flip)


def make_layers(settings: AugmentSettings) -> list[keras.layers.Layer]:
    """The Keras preprocessing layers for `settings`, in the order applied."""
    layers = []
    if settings.flip:
        layers.append(keras.layers.RandomFlip("horizontal"))
    if settings.rotation:
        layers.append(keras.layers.RandomRotation(settings.rotation, fill_mode=FILL_MODE))
    if settings.zoom:
        layers.append(keras.layers.RandomZoom(settings.zoom, fill_mode=FILL_MODE))
    if settings.translation:
        layers.append(keras.layers.RandomTranslation(settings.translation, settings.translation,
                                                     fill_mode=FILL_MODE))
    return layers


def step_seed(run_seed: int, epoch: int, step: int) -> np.ndarray:
    """The seed of one training batch: (run seed, epoch and step), int64 (2,)."""
    return np.array([run_seed, (epoch * STEPS_PER_EPOCH_BOUND + step) * SEEDS_PER_STEP],
                    dtype=np.int64)


class Augmenter:
    """Augments uint8 batches of one or more replicas, each with its own settings and seed.

    Args:
      settings: per replica; a replica whose settings are all off gets its
        images only scaled to [0, 1].
    """

    def __init__(self, settings: list[AugmentSettings]):
        import tensorflow as tf

        self.settings = list(settings)
        self.layers = [make_layers(replica) for replica in self.settings]
        self._augment_one = tf.function(self._augment, jit_compile=False)
        self._augment_many = tf.function(self._augment_replicas, jit_compile=False)

    @property
    def on(self) -> bool:
        return any(replica.on for replica in self.settings)

    def _augment(self, images, seed, replica=0):
        """images (B, H, W, C) uint8, seed (2,) int64 -> float32 (B, H, W, C) in [0, 1]."""
        import tensorflow as tf

        x = tf.cast(images, tf.float32) / 255.0
        for number, layer in enumerate(self.layers[replica]):
            # Each layer draws its random transformation from its own generator;
            # setting its state makes the draw a function of the step's seed alone.
            layer.generator.state.assign(seed + tf.constant([0, number], tf.int64))
            x = layer(x, training=True)
        return x

    def _augment_replicas(self, images, seeds):
        import tensorflow as tf

        return tf.stack([self._augment(images[r], seeds[r], r) for r in range(len(self.layers))])

    def augment(self, images: np.ndarray, seed: np.ndarray) :
        """The first replica's batch: images (B, H, W, C) uint8 -> float32 in [0, 1]."""
        return self._augment_one(images, seed)

    def augment_replicas(self, images: np.ndarray, seeds: np.ndarray) :
        """images (R, B, H, W, C) uint8, seeds (R, 2) int64 -> float32 (R, B, H, W, C)."""
        return self._augment_many(images, seeds)
