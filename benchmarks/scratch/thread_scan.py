# Fused replica throughput for one TensorFlow thread setting (intra inter as arguments).
# Run from the repo root: PYTHONPATH=. .venv/bin/python benchmarks/scratch/thread_scan.py 2 2
# Output in benchmarks/scratch/thread_scan.txt (2-core AMD EPYC, oneDNN off, 2026-11-23 17:30, load average 2).
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
intra, inter = int(sys.argv[1]), int(sys.argv[2])
tf.config.threading.set_intra_op_parallelism_threads(intra)
tf.config.threading.set_inter_op_parallelism_threads(inter)
import numpy as np
from lenet_bench import fused
from lenet_bench.inputs import data
from lenet_bench.networks import models
ds = data.load("fashion_mnist", "../shared/datasets")
count = 12800; size = 12
images, labels = ds.train_images[:count], ds.train_labels[:count]
weights = [models.build_lenet5(ds.image_shape, 10, seed=s).get_weights() for s in range(size)]
for batch in (128, 32):
    group = fused.FusedLeNet5(weights, ds.image_shape, 10)
    orders = np.stack([np.random.default_rng(0).permutation(count) for s in range(size)])
    sl = np.stack([labels] * size)
    warm = 3 * batch
    group.train_epoch(images[:warm], sl[:, :warm], orders[:, :warm] % warm, batch, [0.001] * size)
    t = time.perf_counter()
    group.train_epoch(images, sl, orders, batch, [0.001] * size)
    print(f"intra {intra} inter {inter} b{batch}: {size*count/(time.perf_counter()-t):.0f} replica-img/s", flush=True)
