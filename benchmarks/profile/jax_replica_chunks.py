"""Fused LeNet-5 train steps as batched products over chunks of replicas (lax.map over chunks
of C replicas; C=0: the per-run Keras step in lax.map, one replica at a time), R replicas,
lax.scan over STEPS batches; each compiled once, timed twice interleaved.

    python benchmarks/profile/jax_replica_chunks.py 12 128 5 12,4,2,1,0
"""
import os, sys, time
os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import jax, jax.numpy as jnp, numpy as np
from lenet_bench import runs
from lenet_bench.inputs import data
from lenet_bench.networks import models
from lenet_bench.trainers import lenet_matmul_jax as lm, steps_jax
from lenet_bench.trainers.fused_jax import _stacked_state, _weight_places
R, B, STEPS = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
chunks = [int(c) for c in sys.argv[4].split(",")]
ds = data.make_synthetic(B * STEPS, 100)
specs = [runs.RunSpec(dataset="synthetic", seed=s, batch_size=B) for s in range(R)]
model = models.build_run_model(specs[0], ds)
opt = models.make_optimizer("adam", 0.001); opt.build(model.trainable_variables)
weights = [models.build_run_model(s, ds).get_weights() for s in specs]
imgs = jnp.asarray(ds.train_images); labs = jnp.asarray(ds.train_labels.astype(np.int32))
net = lm.network_of(specs[0], ds.image_shape)
step = lm.make_batched_train_step(net, opt, 10)
lone = steps_jax.make_train_step(model, opt, 10)
def chunked(c):
    def run(state, images, labels, clean):
        split = lambda x: x.reshape(R // c, c, *x.shape[1:])
        args = jax.tree.map(split, (state, images, labels, clean))
        out = jax.lax.map(lambda a: step(*a), args)
        return jax.tree.map(lambda x: x.reshape(R, *x.shape[2:]), out)
    return run
fs = {}
with jax.default_matmul_precision("float32"):
    for c in chunks:
        st = chunked(c) if c else (lambda s, i, l, k: jax.lax.map(lambda a: lone(*a), (s, i, l, k)))
        def body(state, i, st=st):
            idx = (jnp.arange(R * B).reshape(R, B) + i * B) % imgs.shape[0]
            return st(state, imgs[idx], labs[idx], labs[idx])
        fs[c] = jax.jit(lambda s, body=body: jax.lax.scan(body, s, jnp.arange(STEPS)))
        s0 = _stacked_state(model, opt, weights, _weight_places(model))
        t = time.perf_counter(); jax.block_until_ready(fs[c](s0)); print(c, "compile+run", round(time.perf_counter() - t, 1), flush=True)
    for rep in range(2):
        for c in chunks:
            s0 = _stacked_state(model, opt, weights, _weight_places(model))
            t = time.perf_counter(); out = fs[c](s0); jax.block_until_ready(out); e = time.perf_counter() - t
            print(f"chunk {c:3d} ({'lone step per replica' if c == 0 else 'products'}) run {e:6.3f}s {R*B*STEPS/e:8.0f} replica-images/s", flush=True)
