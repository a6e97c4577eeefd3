"""Out-of-distribution test: LeNet-5 trained on MNIST, shown Fashion-MNIST test images.

    python -m lenet_bench --experiment=mnist_ood --workdir=results/wd --data_dir=../shared/datasets

mnist_best's setting (truncated normal, lr 0.005, decay 0.9, batch 32) for
10 epochs over 3 seeds. After training, each run's best-epoch model sees the
MNIST test set (in distribution) and the Fashion-MNIST test set (out of
distribution); the report gives the max-softmax confidence histograms, the
share of OOD images predicted with confidence > 0.9 and the AUROC of max
softmax as an OOD detector, mean ± std over seeds, besides the soft metrics,
best/median/worst runs, classification report and model internals.
What it reaches and how long it takes: benchmarks/RESULTS.md#soft-metrics-and-ood
(raw: benchmarks/companion_studies/mnist_ood/).
"""

import dataclasses

from experiments import mnist_best


def get_config():
    return dataclasses.replace(mnist_best.get_config(), name="mnist_ood", epochs=10, seeds=3,
                               ood_dataset="fashion_mnist")
