"""The resource -> cgroupfs write table, v1 and v2, with runc's conversions."""
from __future__ import annotations

import pytest

from pyrunc.cgroups.resources import (DictProbe, Write, blkio_weight_to_io_weight, cpu_shares_to_weight,
                                      plan_v1, plan_v2, swap_to_v2)
from pyrunc.errors import CgroupError

CFQ = DictProbe({("blkio", "blkio.weight"): "500", ("memory", "memory.memsw.limit_in_bytes"): "x",
                 ("memory", "memory.limit_in_bytes"): "9223372036854771712"})
BFQ = DictProbe({("memory", "memory.limit_in_bytes"): "1000"})


def files(writes):
    return [(w.controller, w.file, w.value) for w in writes]


def test_v1_memory_fields():
    got = plan_v1({"memory": {"limit": 1000, "reservation": 500, "swappiness": 10, "disableOOMKiller": True,
                              "kernel": 4096, "kernelTCP": 8192}}, BFQ)
    assert files(got) == [
        ("memory", "memory.limit_in_bytes", "1000"), ("memory", "memory.soft_limit_in_bytes", "500"),
        ("memory", "memory.kmem.limit_in_bytes", "4096"), ("memory", "memory.kmem.tcp.limit_in_bytes", "8192"),
        ("memory", "memory.oom_control", "1"), ("memory", "memory.swappiness", "10")]
    # kernel memory files are gone on new kernels: optional, skipped with a warning
    assert [w.optional for w in got if "kmem" in w.file] == [True, True]


def test_v1_swap_is_raised_before_memory_when_growing():
    # current limit (huge) is not below the new swap: memory first
    assert files(plan_v1({"memory": {"limit": 100, "swap": 200}}, CFQ))[:2] == [
        ("memory", "memory.limit_in_bytes", "100"), ("memory", "memory.memsw.limit_in_bytes", "200")]
    # current limit 1000 < new swap 5000: memsw must go up first
    assert files(plan_v1({"memory": {"limit": 2000, "swap": 5000}}, BFQ)) == [
        ("memory", "memory.memsw.limit_in_bytes", "5000"), ("memory", "memory.limit_in_bytes", "2000")]
    # unlimited swap: always first
    assert files(plan_v1({"memory": {"limit": 100, "swap": -1}}, CFQ))[0][1] == "memory.memsw.limit_in_bytes"


def test_v1_unlimited_memory_implies_unlimited_swap():
    assert files(plan_v1({"memory": {"limit": -1}}, CFQ)) == [
        ("memory", "memory.memsw.limit_in_bytes", "-1"), ("memory", "memory.limit_in_bytes", "-1")]


def test_v1_uint64_minus_one_is_unlimited():
    assert files(plan_v1({"memory": {"limit": 2 ** 64 - 1}}, BFQ)) == [("memory", "memory.limit_in_bytes", "-1")]


@pytest.mark.parametrize("bad", [101, 200])
def test_v1_swappiness_range(bad):
    with pytest.raises(CgroupError, match="swappiness.*0-100"):
        plan_v1({"memory": {"swappiness": bad}}, CFQ)


def test_v1_swappiness_minus_one_means_unset():
    assert plan_v1({"memory": {"swappiness": 2 ** 64 - 1}}, CFQ) == []


def test_check_before_update_compares_with_usage():
    probe = DictProbe({("memory", "memory.usage_in_bytes"): "5000\n"})
    with pytest.raises(CgroupError, match=r"memory limit \(4000\) is less than current usage \(5000\)"):
        plan_v1({"memory": {"limit": 4000, "checkBeforeUpdate": True}}, probe, update=True)
    assert plan_v1({"memory": {"limit": 6000, "checkBeforeUpdate": True}}, probe, update=True)
    # only on update
    assert plan_v1({"memory": {"limit": 4000, "checkBeforeUpdate": True}}, probe)
    probe2 = DictProbe({("memory", "memory.current"): "5000\n"})
    with pytest.raises(CgroupError, match="less than current usage"):
        plan_v2({"memory": {"limit": 4000, "checkBeforeUpdate": True}}, probe2, update=True)


def test_v1_cpu_fields():
    got = plan_v1({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                           "realtimePeriod": 1000000, "realtimeRuntime": 950000, "cpus": "0-1", "mems": "0",
                           "idle": 1}}, CFQ)
    assert files(got) == [
        ("cpuset", "cpuset.cpus", "0-1"), ("cpuset", "cpuset.mems", "0"),
        ("cpu", "cpu.shares", "512"), ("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_burst_us", "1000"), ("cpu", "cpu.rt_period_us", "1000000"),
        ("cpu", "cpu.rt_runtime_us", "950000"), ("cpu", "cpu.idle", "1")]
    shares = got[2]
    assert shares.verify                                   # kernel clamps: read back
    assert got[3].retry_after_next                         # period retried after quota on EINVAL
    assert files(plan_v1({"cpu": {"quota": -1}}, CFQ)) == [("cpu", "cpu.cfs_quota_us", "-1")]


@pytest.mark.parametrize("limit,want", [(10, "10"), (-1, "max"), (0, None), (2 ** 64 - 1, "max")])
def test_pids(limit, want):
    for plan in (plan_v1, plan_v2):
        got = files(plan({"pids": {"limit": limit}}, CFQ))
        assert got == ([("pids", "pids.max", want)] if want else [])


def test_v1_blkio_cfq_and_bfq_files():
    bio = {"weight": 300, "leafWeight": 200,
           "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
           "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
           "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
           "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
           "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]}
    assert files(plan_v1({"blockIO": bio}, CFQ)) == [
        ("blkio", "blkio.weight", "300"), ("blkio", "blkio.leaf_weight", "200"),
        ("blkio", "blkio.weight_device", "8:0 500"), ("blkio", "blkio.leaf_weight_device", "8:0 300"),
        ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio", "blkio.throttle.write_bps_device", "8:16 2097152"),
        ("blkio", "blkio.throttle.read_iops_device", "8:0 100"),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 200")]
    bfq = files(plan_v1({"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}}, BFQ))
    assert bfq == [("blkio", "blkio.bfq.weight", "300"), ("blkio", "blkio.bfq.weight_device", "8:0 50")]


def test_v1_hugetlb_network_rdma():
    probe = DictProbe({("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"): "0"})
    got = plan_v1({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}],
                   "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5},
                                                                  {"name": "lo", "priority": 2}]},
                   "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 1}}}, probe)
    assert files(got) == [
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "4194304"), ("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes", "4194304"),
        ("hugetlb", "hugetlb.1GB.limit_in_bytes", "0"),
        ("net_cls", "net_cls.classid", "1048577"),
        ("net_prio", "net_prio.ifpriomap", "eth0 5"), ("net_prio", "net_prio.ifpriomap", "lo 2"),
        ("rdma", "rdma.max", "mlx4_0 hca_object=1"), ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]


def test_unified_is_rejected_on_v1_with_a_clear_error():
    with pytest.raises(CgroupError, match="unified: needs cgroup v2"):
        plan_v1({"unified": {"memory.high": "100"}}, CFQ)


# -------------------------------------------------------------------- v2


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 39), (262144, 10000), (512, 20), (0, 0)])
def test_cpu_shares_to_weight(shares, weight):
    assert cpu_shares_to_weight(shares) == weight


@pytest.mark.parametrize("blkio,io", [(10, 1), (1000, 10000), (500, 4950), (0, 0)])
def test_blkio_weight_to_io_weight(blkio, io):
    assert blkio_weight_to_io_weight(blkio) == io


@pytest.mark.parametrize("swap,mem,want", [(0, -1, -1), (-1, 100, -1), (0, 100, 0), (300, 100, 200), (100, 100, 0)])
def test_swap_to_v2(swap, mem, want):
    assert swap_to_v2(swap, mem) == want


@pytest.mark.parametrize("swap,mem,msg", [(300, 0, "without a memory limit"), (50, 100, ">= the memory limit")])
def test_swap_to_v2_errors(swap, mem, msg):
    with pytest.raises(CgroupError, match=msg):
        swap_to_v2(swap, mem)


def test_v2_memory():
    assert files(plan_v2({"memory": {"limit": 1000, "swap": 3000, "reservation": 500}}, DictProbe())) == [
        ("memory", "memory.swap.max", "2000"), ("memory", "memory.max", "1000"), ("memory", "memory.low", "500")]
    assert files(plan_v2({"memory": {"limit": -1}}, DictProbe())) == [
        ("memory", "memory.swap.max", "max"), ("memory", "memory.max", "max")]
    # swap equal to memory means "no swap": 0, not unset
    assert files(plan_v2({"memory": {"limit": 100, "swap": 100}}, DictProbe()))[0] == ("memory", "memory.swap.max", "0")


def test_v2_ignores_what_it_cannot_express_with_warnings():
    warnings = []
    got = plan_v2({"memory": {"swappiness": 10, "disableOOMKiller": True, "kernel": 1, "kernelTCP": 1},
                   "cpu": {"realtimeRuntime": 1}, "blockIO": {"leafWeight": 10},
                   "network": {"classID": 1}}, DictProbe(), warn=warnings.append)
    assert got == []
    assert len(warnings) == 7 and all("ignored" in w for w in warnings)


def test_v2_cpu():
    got = files(plan_v2({"cpu": {"shares": 1024, "quota": 50000, "period": 200000, "burst": 10, "idle": 1,
                                 "cpus": "1", "mems": "0"}}, DictProbe()))
    assert got == [("cpuset", "cpuset.cpus", "1"), ("cpuset", "cpuset.mems", "0"), ("cpu", "cpu.weight", "39"),
                   ("cpu", "cpu.max", "50000 200000"), ("cpu", "cpu.max.burst", "10"), ("cpu", "cpu.idle", "1")]
    assert files(plan_v2({"cpu": {"quota": -1}}, DictProbe())) == [("cpu", "cpu.max", "max 100000")]
    assert files(plan_v2({"cpu": {"period": 50000}}, DictProbe())) == [("cpu", "cpu.max", "max 50000")]


def test_v2_io_with_and_without_bfq():
    bio = {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}],
           "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 10}],
           "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 20}]}
    bfq = DictProbe({("io", "io.bfq.weight"): "100"})
    assert files(plan_v2({"blockIO": bio}, bfq)) == [
        ("io", "io.bfq.weight", "500"), ("io", "io.bfq.weight", "8:0 50"),
        ("io", "io.max", "8:0 rbps=10"), ("io", "io.max", "8:0 wiops=20")]
    warnings = []
    assert files(plan_v2({"blockIO": bio}, DictProbe(), warn=warnings.append))[0] == ("io", "io.weight", "4950")
    assert warnings and "BFQ" in warnings[0]


def test_v2_hugetlb_rdma_unified_last():
    got = files(plan_v2({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
                         "rdma": {"mlx5_1": {"hcaHandles": 1}},
                         "unified": {"memory.high": "1000", "cpu.weight": "7"},
                         "cpu": {"shares": 1024}}, DictProbe()))
    assert got == [("cpu", "cpu.weight", "39"), ("hugetlb", "hugetlb.2MB.max", "2097152"),
                   ("rdma", "rdma.max", "mlx5_1 hca_handle=1"),
                   ("cpu", "cpu.weight", "7"), ("memory", "memory.high", "1000")]  # unified wins: written last


@pytest.mark.parametrize("key", ["../memory.max", "memory", ".hidden", "a/b.c"])
def test_v2_unified_keys_are_validated(key):
    with pytest.raises(CgroupError, match="invalid key"):
        plan_v2({"unified": {key: "1"}}, DictProbe())


def test_empty_resources_write_nothing():
    assert plan_v1(None, CFQ) == [] and plan_v2({}, DictProbe()) == []
    assert isinstance(Write("a", "b", "c"), Write)
