"""The files a workdir and its experiment folders hold, by name.

Training writes them and the report reads them; both import the names from here,
which imports nothing, so a report never loads TensorFlow to find a file.
"""

CONFIG_FILE = "config.json"  # <experiment>/: the config, dataset, machine, run keys.
RUNS_FOLDER = "runs"  # <experiment>/runs/<key>.json: one record per run.
PARAMETER_COUNTS_FILE = "parameter_counts.json"  # Every model's size, built with Keras.
CONFUSION_EXAMPLES_FILE = "confusion_examples.npz"  # Most confident mistakes of the top pairs.
TEST_LABELS_FILE = "test_labels.npz"  # The test labels, for scikit-learn's report.
MODEL_INTERNALS_FILE = "model_internals.npz"  # Kernels and feature maps (inspection).
# The layers model_internals.npz stores, by their Keras names.
LAYER_NAMES = ("conv1", "conv2", "fc1", "fc2", "predictions")
SEARCH_FILE = "search.json"  # A search's plan: trials, run keys per split, the choices.
SKIPPED_FILE = "skipped.json"  # <workdir>/: experiment -> why its data was not found.
RACE_FILE = "race.json"  # A race's state for readers (never read back).
RACE_PLAN_FILE = "race_plan.json"  # A race's plan, fixed before its first look.
