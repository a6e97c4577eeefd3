"""--engine=ray on a simulated multi-node cluster that loses a worker node mid-study.

The Ray tests' cluster (conftest.ray_cluster: a head that runs no task and two 1-CPU
worker nodes, all on this machine), in a network namespace holding only loopback
(see conftest.py). Skipped where none can be made, or without Ray.
"""

import functools
import os
import threading
import time

import pytest
from test_ray_engine import (CONFIG, THREADS, assert_same_results, local_reference,  # noqa: F401
                             run_files)

from lenet_bench import runs
from lenet_bench.study import engines, experiment
from lenet_bench.trainers import CPU_GROUP_SIZE, group_loop

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.loopback_netns
STALL_SECONDS = 300  # How long a task on the doomed node waits to be killed.


def stall_on_node(group, dataset, runs_dir, *, doomed_node, started_dir, **kwargs):
    """A group trainer that notes where each attempt runs; on `doomed_node` it waits
    (the group in flight) until the node is removed under it."""
    node = ray.get_runtime_context().get_node_id()
    (started_dir / f"{group[0].key}@{node}@{os.getpid()}").touch()
    if node == doomed_node:
        time.sleep(STALL_SECONDS)
        raise RuntimeError(f"node {node} was not removed within {STALL_SECONDS} s")
    return group_loop.train_group(group, dataset, runs_dir, **kwargs)


def test_a_lost_worker_node_still_gives_every_run_once_with_the_local_numbers(
        tmp_path, ray_cluster, digits, local_reference):
    cluster, nodes = ray_cluster
    kept, doomed = nodes
    reference = local_reference
    started_dir = tmp_path / "started"
    started_dir.mkdir()
    groups = runs.make_groups(runs.run_specs(CONFIG), CPU_GROUP_SIZE)
    assert len(groups) == 2  # One per 1-CPU node at a time.

    def remove_doomed_node_once_its_group_runs():
        deadline = time.monotonic() + STALL_SECONDS
        while not list(started_dir.glob(f"*@{doomed.node_id}@*")):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        cluster.remove_node(doomed)

    remover = threading.Thread(target=remove_doomed_node_once_its_group_runs)
    remover.start()
    # The tasks' TensorFlow threads: as many as this process's, which trained the
    # reference (a different count changes the last bits of the losses).
    engine = engines.RayEngine(threads=THREADS, group_trainer=functools.partial(
        stall_on_node, doomed_node=doomed.node_id, started_dir=started_dir))
    try:
        experiment_dir = experiment.run_experiment(CONFIG, digits, tmp_path / "ray", engine=engine)
    finally:
        remover.join()
        nodes[1] = cluster.add_node(num_cpus=1)  # The other Ray tests' second node.
        cluster.wait_for_nodes()
    starts = sorted(path.name.split("@")[:2] for path in started_dir.iterdir())
    # Each group started once on the node that stayed, plus once on the lost node.
    assert sorted(key for key, node in starts if node == kept.node_id) == sorted(
        group[0].key for group in groups)
    assert [node for _, node in starts].count(doomed.node_id) == 1
    assert not list((experiment_dir / "runs").glob("group-*"))
    assert run_files(experiment_dir) == run_files(reference)
    assert_same_results(experiment_dir, reference)
