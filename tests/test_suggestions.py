"""'did you mean': by words first (what was meant), then by letters (what was mistyped)."""

import pytest

from lenet_bench import architectures, options
from lenet_bench.study import registry
from lenet_bench.errors import InputError, did_you_mean


@pytest.mark.parametrize("name, suggested", [
    # Words: the experiment that holds every word typed, not the one sharing most letters.
    ("mnist_grid", r"\(did you mean mnist_init_lr_grid\?\)"),
    ("mnist_lr", r"\(did you mean mnist_init_lr_grid\?\)"),
    ("cifar_best", r"\(did you mean cifar10_best\?\)"),
    # A name the experiments extend: all of them.
    ("fashion_mnist", r"\(did you mean one of fashion_mnist_best, fashion_mnist_init_lr_grid, "
                      r"fashion_mnist_label_noise, fashion_mnist_augmentation, "
                      r"fashion_mnist_random_search, fashion_mnist_ood\?\)"),
    # Letters: a typo still finds its word.
    ("mnist_bset", r"\(did you mean mnist_best\?\)"),
])
def test_experiment_names(name, suggested):
    with pytest.raises(InputError, match=rf"^--experiment='{name}' is unknown {suggested}: "):
        registry.resolve_experiment(name)


@pytest.mark.parametrize("name, suggested", [
    ("lr", r"\(did you mean learning_rate\?\)"),  # its words' initials
    ("noise", r"\(did you mean one of label_noise, noise_mode\?\)"),
    ("decay", r"\(did you mean lr_decay\?\)"),
    ("epoch", r"\(did you mean epochs\?\)"),
])
def test_run_study_keywords(name, suggested):
    with pytest.raises(InputError, match=rf"^{name}=1 is unknown {suggested}: expected a run "):
        options.split_keywords({name: 1})


@pytest.mark.parametrize("name, suggested", [
    ("lenet6", r"\(did you mean lenet5\?\)"),
    ("tanh", r"\(did you mean lenet5_tanh\?\)"),
    ("mpl", r"\(did you mean mlp\?\)"),  # no word in common: letters
])
def test_architecture_names(name, suggested):
    with pytest.raises(InputError, match=rf"^--architecture='{name}' is unknown {suggested}"):
        architectures.check_name(name)


def test_nothing_close_suggests_nothing():
    assert did_you_mean("workers", ["epochs", "learning_rate"]) == ""
    assert did_you_mean("", ["epochs"]) == ""
