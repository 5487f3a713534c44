"""The local cluster has the shape the end-to-end tests assume (deploy/local-slurm/up).

Preemption and GPU tests only mean something if `gpu` outranks and cannot be preempted,
`preempt` is requeued, and the node offers the GPUs cluster.env promises. A drifted
slurm.conf should fail here, with a clear message, before it fails a scenario obscurely.
"""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.slurm


def scontrol_records(kind: str) -> dict[str, dict[str, str]]:
    """`scontrol show KIND -o` as {name: {key: value}}; one record per line."""
    answer = subprocess.run(
        ["scontrol", "show", kind, "-o"], capture_output=True, text=True, timeout=60, check=False
    )
    assert answer.returncode == 0, answer.stderr
    records: dict[str, dict[str, str]] = {}
    for line in answer.stdout.splitlines():
        fields = dict(word.split("=", 1) for word in line.split() if "=" in word)
        name = fields.get("PartitionName") or fields.get("NodeName")
        if name:
            records[name] = fields
    return records


def test_partitions_preempt_by_tier(slurm_cluster) -> None:
    parts = scontrol_records("partition")
    gpu, low = parts[slurm_cluster.partition], parts[slurm_cluster.preempt_partition]
    assert gpu["Default"] == "YES"
    assert gpu["PreemptMode"] == "OFF"
    assert low["PreemptMode"] == "REQUEUE"
    assert int(gpu["PriorityTier"]) > int(low["PriorityTier"])


def test_node_offers_the_promised_gpus(slurm_cluster) -> None:
    node = scontrol_records("node")[slurm_cluster.node]
    assert node["Gres"] == f"gpu:{slurm_cluster.gpus}"
