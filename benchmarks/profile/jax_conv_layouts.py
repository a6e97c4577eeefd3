"""Forward and forward+backward time of one replica-batched convolution layer and pooling, per
formulation, on this CPU (R=12 replicas, batch 32, random data; jax.grad of a weighted sum).

    python benchmarks/profile/jax_conv_layouts.py 12 32
"""
import sys
import time
import jax, jax.numpy as jnp, numpy as np
R, B = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
def t(name, f, *a, n=5):
    f = jax.jit(f); jax.block_until_ready(f(*a))
    s = time.perf_counter()
    for _ in range(n): out = f(*a)
    jax.block_until_ready(out); e = (time.perf_counter() - s) / n
    print(f"{name:44s} {e*1e3:8.2f} ms", flush=True)

def nhwc_patches(x, k, pad):
    x = jnp.pad(x, [(0,0)]*(x.ndim-3) + [(pad,pad),(pad,pad),(0,0)])
    H, W = x.shape[-3] - k + 1, x.shape[-2] - k + 1
    return jnp.concatenate([x[..., i:i+H, j:j+W, :] for i in range(k) for j in range(k)], -1)
def conv_nhwc(x, w, pad):  # x (R,B,H,W,C) w (R,k,k,C,F)
    return jnp.einsum("rbhwk,rkf->rbhwf", nhwc_patches(x, 5, pad), w.reshape(R, -1, w.shape[-1]))
def conv_cnhw(x, w, pad):  # x (R,C,B,H,W) w (R,k,k,C,F)
    x = jnp.pad(x, [(0,0),(0,0),(0,0),(pad,pad),(pad,pad)])
    H, W = x.shape[-2] - 4, x.shape[-1] - 4
    p = jnp.stack([x[..., i:i+H, j:j+W] for i in range(5) for j in range(5)], 2)  # R,C,25,B,H,W
    p = p.reshape(R, -1, x.shape[2] * H * W)
    wt = w.transpose(0, 4, 3, 1, 2).reshape(R, w.shape[-1], -1)
    return jnp.einsum("rfk,rkn->rfn", wt, p).reshape(R, -1, x.shape[2], H, W)
def conv_map(x, w, pad):  # x (R,B,H,W,C)
    return jax.lax.map(lambda a: jax.lax.conv_general_dilated(a[0], a[1], (1,1), [(pad,pad)]*2, dimension_numbers=("NHWC","HWIO","NHWC")), (x, w))
def conv_vmap(x, w, pad):
    return jax.vmap(lambda a, b: jax.lax.conv_general_dilated(a, b, (1,1), [(pad,pad)]*2, dimension_numbers=("NHWC","HWIO","NHWC")))(x, w)
def conv_dpatches(x, w, pad):
    r, b, h, wd, c = x.shape
    p = jax.lax.conv_general_dilated_patches(x.reshape(r*b, h, wd, c), (5,5), (1,1), [(pad,pad)]*2, dimension_numbers=("NHWC","HWIO","NHWC"))
    p = p.reshape(r, b, p.shape[1], p.shape[2], -1)
    return jnp.einsum("rbhwk,rkf->rbhwf", p, w.transpose(0, 3, 1, 2, 4).reshape(R, -1, w.shape[-1]))

def layer_cost(name, conv, x, w, pad, wrt):
    out = jax.eval_shape(lambda: conv(x, w, pad))
    g = jnp.asarray(rng.random(out.shape, np.float32))
    t(name, jax.grad(lambda x, w: jnp.sum(conv(x, w, pad) * g), argnums=wrt), x, w)

with jax.default_matmul_precision("float32"):
    for label, (H, C, F, pad, wrt) in {"conv1": (28, 1, 6, 2, 1), "conv2": (14, 6, 16, 0, (0, 1))}.items():
        xn = jnp.asarray(rng.random((R, B, H, H, C), np.float32))
        xc = xn.transpose(0, 4, 1, 2, 3)
        w = jnp.asarray(rng.random((R, 5, 5, C, F), np.float32))
        for name, conv, x in (("nhwc", conv_nhwc, xn), ("cnhw", conv_cnhw, xc), ("map", conv_map, xn), ("vmap", conv_vmap, xn), ("dpatches", conv_dpatches, xn)):
            if name == "dpatches" and label == "conv2": continue
            t(f"{label} fwd {name}", lambda x, w: conv(x, w, pad), x, w)
            layer_cost(f"{label} fwd+bwd {name}", conv, x, w, pad, wrt)
    x = jnp.asarray(rng.random((R, B, 28, 28, 6), np.float32))
    pool_r = lambda x: x.reshape(R, B, 14, 2, 14, 2, 6).max(axis=(3, 5))
    pool_s = lambda x: jnp.maximum(jnp.maximum(x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2]), jnp.maximum(x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2]))
    pool_w = lambda x: jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1,1,2,2,1), (1,1,2,2,1), "VALID")
    for name, f in (("reshape", pool_r), ("slices", pool_s), ("reduce_window", pool_w)):
        t(f"pool {name} fwd+bwd", jax.grad(lambda x: jnp.sum(f(x) ** 2)), x)
    xc = x.transpose(0, 4, 1, 2, 3)
    pool_c = lambda x: jnp.maximum(jnp.maximum(x[..., 0::2, 0::2], x[..., 1::2, 0::2]), jnp.maximum(x[..., 0::2, 1::2], x[..., 1::2, 1::2]))
    t("pool cnhw slices fwd+bwd", jax.grad(lambda x: jnp.sum(pool_c(x) ** 2)), xc)
    pool_cr = lambda x: x.reshape(R, 6, B, 14, 2, 14, 2).max(axis=(4, 6))
    t("pool cnhw reshape fwd+bwd", jax.grad(lambda x: jnp.sum(pool_cr(x) ** 2)), xc)
