"""LeNet-5 on scikit-learn's digits (upscaled to 28x28): seconds, no data needed.

Command:
    python -m lenet_bench --experiment=digits_smoke --workdir=benchmarks/digits_smoke

Result: final test accuracy 98.44 % over 1 seed at its setting
    (benchmarks/digits_smoke/digits_smoke/runs)
Time: 2.7 s of training over 1 run on a 2-core Intel Xeon CPU
    (benchmarks/digits_smoke/digits_smoke/runs)

The zero-setup default of the CLI, and the data the tests train on; one
run, 5 epochs. The whole command (imports, data, report) takes longer than
the training: benchmarks/RESULTS.md#start-here-digits_smoke.
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
        # Margin: 1 point is about 4 of digits' 360 test images, the resolution of this smoke test.
        margin=1.0,
    )
