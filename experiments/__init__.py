"""The studies: one module per experiment, each with `get_config()`.

Add a study by writing `experiments/<name>.py` and listing it below.
"""

from experiments import (cifar10_best, cifar10_tuned, digits_smoke, fashion_mnist_best,
                         mnist_best)

EXPERIMENTS = {module.__name__.rsplit(".", 1)[1]: module
               for module in (mnist_best, fashion_mnist_best, cifar10_best, cifar10_tuned,
                               digits_smoke)}
