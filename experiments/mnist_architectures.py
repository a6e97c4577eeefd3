"""MNIST: LeNet-5 against its variants and MLP baselines, 10 architectures x 2 seeds, 5 epochs.

Command:
    python -m lenet_bench --experiment=mnist_architectures --workdir=benchmarks/mnist_architectures --data_dir=../shared/datasets

Result: final test accuracy 97.50 +/- 0.29 % over 2 seeds at architecture=lenet5_batchnorm,
    the best of 10 grid points (benchmarks/mnist_architectures/mnist_architectures/runs)
Result: final test accuracy 95.72 +/- 0.04 % over 2 seeds at architecture=lenet5
    (benchmarks/mnist_architectures/mnist_architectures/runs)
Time: 26.5 min of training over 20 runs on a 2-core AMD EPYC CPU
    (benchmarks/mnist_architectures/mnist_architectures/runs)

The best MNIST setting (truncated normal, Adam lr 0.005, decay 0.9) at batch 128 on
the 5,000-image training subset, with the model varied (presets in
lenet_bench/architectures.py): lenet5, lenet5_elu, lenet5_dilated,
lenet5_wide_fc, lenet5_batchnorm, lenet5_dropout, and the MLP 784-100-100-10
with ReLU or sigmoid, each with and without batch normalization. The report
adds parameters, inference time per image and .keras size to the summary
table, and a parameter-count table with VGG-19 for scale. Plain lenet5 trains
on the fused path (its s/epoch is a 2-replica group's time divided by 2); the
others on the Keras path, so compare their s/epoch among themselves. Five
epochs and two seeds is a short look, and other jobs shared the cores (the
time is an upper bound). Every architecture's row:
benchmarks/RESULTS.md#architecture-variants-and-cost.
"""

import dataclasses

from experiments import mnist_best

ARCHITECTURES = ("lenet5", "lenet5_elu", "lenet5_dilated", "lenet5_wide_fc", "lenet5_batchnorm",
                 "lenet5_dropout", "mlp", "mlp_batchnorm", "mlp_sigmoid", "mlp_sigmoid_batchnorm")


# Margin: mnist_best's (its get_config says why).
def get_config():
    return dataclasses.replace(mnist_best.get_config(), name="mnist_architectures", epochs=5,
                               seeds=2, batch_size=128,  # Budget: minutes on a 2-core CPU.
                               grid={"architecture": ARCHITECTURES})
