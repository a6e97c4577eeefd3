"""Why a few pieces of lenet_bench.records.statistics are vectorized or kept by hand:
the cost of one call of the library functions they match, on 5 seeds against 5.

    .venv/bin/python benchmarks/statistics/library_costs.py \
        > benchmarks/statistics/library_costs.txt
"""

import platform
import time

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_ind

from lenet_bench.records import statistics


def per_call(function, repeats: int = 200) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.95, 0.003, 5), rng.normal(0.95, 0.003, 5)
    grid = [rng.normal(0.95, 0.003, 5) for _ in range(36)]
    p_values = rng.uniform(0, 1, 35)
    print(f"# {platform.processor() or platform.machine()}, python {platform.python_version()}")
    cases = [
        ("scipy.stats.ttest_ind (Welch, one pair)", 200,
         lambda: stats.ttest_ind(a, b, equal_var=False, alternative="less")),
        ("statsmodels ttost_ind (one pair)", 200,
         lambda: ttost_ind(a, b, -0.005, 0.005, usevar="unequal")),
        ("statsmodels multipletests holm (35 p-values)", 20,
         lambda: multipletests(p_values, 0.05, method="holm")),
        ("statistics.holm (35 p-values)", 200, lambda: statistics.holm(p_values)),
        ("statistics.welch_less_matrix (36 points, 1,260 pairs)", 20,
         lambda: statistics.welch_less_matrix(grid)),
        ("statistics.verdicts (36 points, no seeds to decide)", 5,
         lambda: statistics.verdicts(grid, 10, with_seeds=False)),
        ("statistics.verdicts (36 points, seeds to decide)", 3,
         lambda: statistics.verdicts(grid, 10)),
    ]
    for label, repeats, function in cases:
        print(f"{label:<56} {1e3 * per_call(function, repeats):9.3f} ms per call")

if __name__ == "__main__":
    main()
