"""lenet_bench: LeNet-5 benchmark suite for Keras/TensorFlow.

Importing the package loads nothing heavy: TensorFlow is imported by the
modules that train or build models, when they are imported.
"""

__version__ = "0.1.0"
