"""The speed benchmarks (python -m lenet_bench.bench.benchmark, python -m
lenet_bench.bench.benchmark_jax).
"""
