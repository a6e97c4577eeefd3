"""The studies: one module per experiment, each with `get_config()`.

Add a study by writing `experiments/<name>.py` and listing it below.
"""

from experiments import (cifar10_augmentation, cifar10_best, cifar10_init_lr_grid, cifar10_tuned,
                         digits_smoke, fashion_mnist_augmentation, fashion_mnist_best,
                         fashion_mnist_init_lr_grid, fashion_mnist_label_noise, fashion_mnist_ood,
                         fashion_mnist_random_search, mnist_architectures, mnist_augmentation,
                         mnist_best, mnist_init_lr_grid, mnist_label_noise, mnist_ood,
                         mnist_random_search)

EXPERIMENTS = {module.__name__.rsplit(".", 1)[1]: module
               for module in (mnist_best, fashion_mnist_best, cifar10_best, cifar10_tuned,
                              mnist_init_lr_grid, fashion_mnist_init_lr_grid,
                              cifar10_init_lr_grid, mnist_label_noise, fashion_mnist_label_noise,
                              mnist_architectures, mnist_augmentation, fashion_mnist_augmentation,
                              cifar10_augmentation, mnist_random_search,
                              fashion_mnist_random_search, mnist_ood, fashion_mnist_ood,
                              digits_smoke)}
