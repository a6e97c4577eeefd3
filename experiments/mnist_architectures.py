"""MNIST: LeNet-5 against its variants and MLP baselines, 10 architectures x 2 seeds, 5 epochs.

    python -m lenet_bench --experiment=mnist_architectures --workdir=benchmarks/mnist_architectures --data_dir=../shared/datasets

The best MNIST setting (truncated normal, Adam lr 0.005, decay 0.9) at batch 128 on
the 5,000-image training subset, with the model varied (presets in
lenet_bench/architectures.py): lenet5, lenet5_elu, lenet5_dilated,
lenet5_wide_fc, lenet5_batchnorm, lenet5_dropout, and the MLP 784-100-100-10
with ReLU or sigmoid, each with and without batch normalization. The report
adds parameters, inference time per image and .keras size to the summary
table, and a parameter-count table with VGG-19 for scale. Plain lenet5 trains
on the fused path (its s/epoch is a 2-replica group's time divided by 2); the
others on the Keras path.

Measured (2-core AMD EPYC CPU shared with five other jobs, so times are upper
bounds): 1,588 s of training for the 20 runs, about 37 min of wall time (two
invocations, see benchmarks/mnist_architectures/README.md). Final
test accuracy, mean ± std over 2 seeds: lenet5_batchnorm 97.50 ± 0.29,
lenet5_wide_fc 96.80 ± 0.63, lenet5_elu 96.56 ± 0.18, lenet5_dropout
96.28 ± 0.05, lenet5 95.72 ± 0.04, mlp_batchnorm 93.86 ± 0.21, lenet5_dilated
93.00 ± 0.03, mlp 92.75 ± 0.23, mlp_sigmoid_batchnorm 90.81 ± 0.46,
mlp_sigmoid 90.28 ± 0.17. Raw results and the cost columns:
benchmarks/mnist_architectures/. No GPU figure: no GPU was lent.
"""

import dataclasses

from experiments import mnist_best

ARCHITECTURES = ("lenet5", "lenet5_elu", "lenet5_dilated", "lenet5_wide_fc", "lenet5_batchnorm",
                 "lenet5_dropout", "mlp", "mlp_batchnorm", "mlp_sigmoid", "mlp_sigmoid_batchnorm")


def get_config():
    return dataclasses.replace(mnist_best.get_config(), name="mnist_architectures", epochs=5,
                               seeds=2, batch_size=128,  # Budget: minutes on a 2-core CPU.
                               grid={"architecture": ARCHITECTURES})
