"""Evaluation in batches, the same on every backend: a backend's compiled `eval_step`
gives each batch's sums, added up here in one fixed order (so a backend's numbers do
not depend on how it sums). Imports no backend library: results come back through
`keras.ops.convert_to_numpy`."""

import keras
import numpy as np

EVAL_BATCH_SIZE = 1000


def evaluate_in_batches(eval_step, images, labels, num_classes: int) -> tuple:
    """`eval_step(images, labels)` over batches of EVAL_BATCH_SIZE, its sums added up.

    `eval_step` returns, for one batch: (sum of cross-entropy losses, correct
    count, predicted classes, max probabilities, sum of the true class's
    probability, KxK sums of one_hot(labels)^T @ probabilities).

    Returns:
      (mean loss, accuracy, predicted classes, max probabilities, soft accuracy,
      KxK soft confusion sums), as numpy and Python numbers.
    """
    to_numpy = keras.ops.convert_to_numpy
    total_loss, total_correct, predicted, confidence = 0.0, 0, [], []
    soft_true, soft_sums = 0.0, np.zeros((num_classes, num_classes))
    for start in range(0, len(labels), EVAL_BATCH_SIZE):
        (batch_loss, batch_correct, batch_predicted, batch_confidence, batch_soft_true,
         batch_soft_sums) = eval_step(images[start:start + EVAL_BATCH_SIZE],
                                      labels[start:start + EVAL_BATCH_SIZE])
        total_loss += float(to_numpy(batch_loss))
        total_correct += int(to_numpy(batch_correct))
        predicted.append(to_numpy(batch_predicted))
        confidence.append(to_numpy(batch_confidence))
        soft_true += float(to_numpy(batch_soft_true))
        soft_sums += to_numpy(batch_soft_sums)
    return (total_loss / len(labels), total_correct / len(labels),
            np.concatenate(predicted), np.concatenate(confidence),
            soft_true / len(labels), soft_sums)
