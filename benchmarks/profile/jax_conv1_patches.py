"""Fused LeNet-5 train steps (batched products, R replicas, lax.scan over STEPS batches) with
conv1 patches by strided slices vs lax.conv_general_dilated_patches, compiled once each,
timed twice interleaved.

    python benchmarks/profile/jax_conv1_patches.py 12 128 5

DATA_PATCHES and data_patches were an experiment in lenet_matmul_jax, removed after this
measurement (slices measured faster); to rerun, restore them from the git history.
"""
import os, sys, time
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import jax, jax.numpy as jnp, numpy as np
from lenet_bench import runs
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.trainers import lenet_matmul_jax as lm
from lenet_bench.trainers.fused_jax import _stacked_state, _weight_places
R, B, STEPS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
ds = data.make_synthetic(B * STEPS, 100)
specs = [runs.RunSpec(dataset="synthetic", seed=s, batch_size=B) for s in range(R)]
model = models.build_run_model(specs[0], ds)
opt = models.make_optimizer("adam", 0.001); opt.build(model.trainable_variables)
weights = [models.build_run_model(s, ds).get_weights() for s in specs]
imgs = jnp.asarray(ds.train_images); labs = jnp.asarray(ds.train_labels.astype(np.int32))
net = lm.network_of(specs[0], ds.image_shape)
fs = {}
with jax.default_matmul_precision("float32"):
    for mode in ("slices", "dilated"):
        lm.DATA_PATCHES = mode
        step = lm.make_batched_train_step(net, opt, 10)
        def body(state, i):
            idx = (jnp.arange(R * B).reshape(R, B) + i * B) % imgs.shape[0]
            return step(state, imgs[idx], labs[idx], labs[idx])
        fs[mode] = jax.jit(lambda s: jax.lax.scan(body, s, jnp.arange(STEPS)))
        st = _stacked_state(model, opt, weights, _weight_places(model))
        t = time.perf_counter(); jax.block_until_ready(fs[mode](st)); print(mode, "compile+run", time.perf_counter() - t, flush=True)
    outs = {}
    for rep in range(2):
        for mode in ("slices", "dilated"):
            st = _stacked_state(model, opt, weights, _weight_places(model))
            t = time.perf_counter(); out = fs[mode](st); jax.block_until_ready(out); e = time.perf_counter() - t
            outs[mode] = out
            print(f"{mode:8s} run {e:6.3f}s {R*B*STEPS/e:8.0f} replica-images/s", flush=True)
    print("max weight diff", max(float(jnp.abs(a - b).max()) for a, b in zip(outs["slices"][0][0], outs["dilated"][0][0])))
