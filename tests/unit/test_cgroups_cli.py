"""The pure parts of the cgroup verbs: runc's size and duration syntax and the
update flags -> linux.resources mapping."""
from __future__ import annotations

import pytest

from pyrunc.cli.cgroup_cmds import parse_duration, ram_in_bytes, resources_from_flags
from pyrunc.errors import UsageError


@pytest.mark.parametrize("text,want", [("1024", 1024), ("64m", 64 << 20), ("64M", 64 << 20), ("64MB", 64 << 20),
                                       ("64MiB", 64 << 20), ("1g", 1 << 30), ("1.5k", 1536), ("-1", -1),
                                       ("2 GB", 2 << 30)])
def test_ram_in_bytes(text, want):
    assert ram_in_bytes(text, "--memory") == want


@pytest.mark.parametrize("text", ["", "abc", "10x", "-5", "1.2.3m"])
def test_ram_in_bytes_rejects(text):
    with pytest.raises(UsageError, match="invalid value for --memory"):
        ram_in_bytes(text, "--memory")


@pytest.mark.parametrize("text,want", [("5s", 5), ("100ms", 0.1), ("1m30s", 90), ("1.5s", 1.5), ("250us", 0.00025)])
def test_parse_duration(text, want):
    assert parse_duration(text) == pytest.approx(want)


@pytest.mark.parametrize("text", ["5", "s", "5 s", "-1s", "1d"])
def test_parse_duration_rejects(text):
    with pytest.raises(UsageError, match="-interval"):
        parse_duration(text)


def test_update_flags_map_to_resources():
    res = resources_from_flags({"memory": "128M", "memory_swap": "-1", "memory_reservation": "64m",
                                "cpu_share": "256", "cpu_quota": "-1", "cpu_period": "100000",
                                "cpu_rt_runtime": "5", "cpu_rt_period": "10", "cpuset_cpus": "0-1",
                                "cpuset_mems": "0", "blkio_weight": "300", "pids_limit": "20", "cpu_idle": "1"})
    assert res == {"memory": {"limit": 128 << 20, "swap": -1, "reservation": 64 << 20},
                   "cpu": {"period": 100000, "realtimePeriod": 10, "shares": 256, "quota": -1,
                           "realtimeRuntime": 5, "idle": 1, "cpus": "0-1", "mems": "0"},
                   "blockIO": {"weight": 300}, "pids": {"limit": 20}}


def test_update_flags_only_what_is_given():
    assert resources_from_flags({"memory": "1g"}) == {"memory": {"limit": 1 << 30}}
    assert resources_from_flags({}) == {}


def test_update_flags_reject_bad_numbers():
    with pytest.raises(UsageError, match="--cpu-share"):
        resources_from_flags({"cpu_share": "-3"})
    with pytest.raises(UsageError, match="--pids-limit"):
        resources_from_flags({"pids_limit": "ten"})
