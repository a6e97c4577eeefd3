"""LeNet-5 on scikit-learn's digits (upscaled to 28x28): seconds, no data needed.

    python -m lenet_bench --experiment=digits_smoke --workdir=results/wd

The zero-setup default of the CLI, and the data the tests train on; one
run, 5 epochs. What it reaches and how long it takes:
benchmarks/RESULTS.md#start-here-digits_smoke.
"""

from lenet_bench.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        name="digits_smoke",
        dataset="digits",
        initializer="glorot_uniform",
        learning_rate=0.005,
        lr_decay=0.9,
        epochs=5,
        batch_size=32,
        seeds=1,
    )
