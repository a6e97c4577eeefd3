"""Run files to tables, statistics and figures; nothing here imports TensorFlow or Keras."""
