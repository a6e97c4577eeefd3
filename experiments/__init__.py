"""The studies: one module per experiment, each with `get_config()`.

Add a study by writing `experiments/<name>.py` and listing its name below (the order
is `--list_experiments`'s).
"""

import importlib

NAMES = ("mnist_best", "fashion_mnist_best", "cifar10_best", "cifar10_tuned",
         "mnist_init_lr_grid", "fashion_mnist_init_lr_grid", "cifar10_init_lr_grid",
         "mnist_label_noise", "fashion_mnist_label_noise", "mnist_architectures",
         "mnist_augmentation", "fashion_mnist_augmentation", "cifar10_augmentation",
         "mnist_random_search", "fashion_mnist_random_search", "mnist_ood",
         "fashion_mnist_ood", "digits_smoke")
EXPERIMENTS = {name: importlib.import_module(f"experiments.{name}") for name in NAMES}
