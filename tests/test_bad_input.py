"""Bad input: every malformed argument raises the documented exception with a message
that says what was wrong, and a refused call changes nothing (the ``unchanged``
fixture compares every page array, counter, cgroup file and task before and after).
No input may crash the interpreter.
"""
import errno
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pymemcg
from pymemcg import PAGE_SIZE as P

VPN_LIMIT = 1 << 36


@pytest.fixture
def eng():
    return pymemcg.Engine(ram="8M", swap=0)       # 2048 frames


@pytest.fixture
def busy(eng):
    """An engine with some state to disturb: two cgroups, a forked pair, parked pages."""
    a = eng.mkdir("a")
    a.limit_in_bytes = "4M"
    eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(64))
    c = t.fork()
    c.fault(range(8), write=True)
    t.zap(range(60, 64), flush=False)
    t.mlock(range(10, 20))
    return eng, t, c


# ---------------------------------------------------------------- Engine(...)


@pytest.mark.parametrize("ram", ["xx", "", "-1", "100T", "1e6", "1.5", "1.5X", "4iB", "0", "0k", -1, -4096,
                                 4095, 2**80, "99999999999G", "20E", "09M"])
def test_engine_bad_ram_value(ram):
    with pytest.raises(ValueError, match="ram"):
        pymemcg.Engine(ram=ram, swap=0)


@pytest.mark.parametrize("ram", [None, 1.0, 4096.0, True, b"4M", [4096], object()])
def test_engine_bad_ram_type(ram):
    with pytest.raises(TypeError, match="ram"):
        pymemcg.Engine(ram=ram, swap=0)


@pytest.mark.parametrize("swap", ["xx", "-1", -1, 2**80, 4096, "4k", "4096", 8191, 8192, "8k", "1.0", "8.0K"])
def test_engine_bad_swap_value(swap):
    # 4096 / "4k" / 8191: exactly one page, which would be only the swap header
    with pytest.raises(ValueError, match="swap"):
        pymemcg.Engine(ram="1M", swap=swap)


@pytest.mark.parametrize("swap", [None, 1.0, False, b"4M"])
def test_engine_bad_swap_type(swap):
    with pytest.raises(TypeError, match="swap"):
        pymemcg.Engine(ram="1M", swap=swap)


def test_engine_good_sizes():
    e = pymemcg.Engine(ram="0x100000", swap=12288)
    assert e.settings["ram"] == 1 << 20 and e.meminfo()["MemTotal"] == 1 << 20
    assert e.settings["swap"] == 12288
    # released 2.6.30 swapon uses neither the header nor the last page: one good slot
    assert e.meminfo()["SwapTotal"] == 4096
    e = pymemcg.Engine(ram=4096 * 3 + 1, swap=0)                             # rounded down to pages
    assert e.meminfo()["MemTotal"] == 3 * P
    e = pymemcg.Engine(ram="4k", swap="0")
    assert e.meminfo()["MemTotal"] == P


@pytest.mark.parametrize("text, nbytes", [("1.5M", 3 << 19), ("512KB", 512 << 10), ("1MiB", 1 << 20),
                                          (".5M", 1 << 19), ("2 M", 2 << 20), ("0x100000", 1 << 20),
                                          ("010M", 8 << 20), ("1.1M", 1153433)])
def test_engine_sizes_as_people_write_them(text, nbytes):
    """Sizes are binary whatever the spelling; a fraction of a byte is dropped, then the
    Engine rounds down to pages."""
    e = pymemcg.Engine(ram=text, swap=0)
    assert e.meminfo()["MemTotal"] == nbytes // P * P


def test_a_bad_size_lists_the_accepted_forms():
    with pytest.raises(ValueError) as ex:
        pymemcg.Engine(ram="1.5X", swap=0)
    for form in ("1.5G", "512MB", "1GiB", "100T", "1024"):
        assert form in str(ex.value)


@pytest.mark.parametrize("kw", [dict(kernel="2.6.32"), dict(kernel="2.6.30 "), dict(kernel=None),
                                dict(kernel=2630), dict(hook="bogus"), dict(hook="Seed"), dict(hook=None),
                                dict(hook=1)])
def test_engine_unknown_kernel_or_hook(kw):
    (name,) = kw
    with pytest.raises(ValueError, match=name):
        pymemcg.Engine(ram="1M", swap=0, **kw)


@pytest.mark.parametrize("kw", [dict(kernel=["2.6.30"]), dict(hook={"none": 1})])
def test_engine_unhashable_kernel_or_hook(kw):
    # an unhashable value is still a bad kernel/hook: the message must say which argument
    (name,) = kw
    with pytest.raises((TypeError, ValueError), match=name):
        pymemcg.Engine(ram="1M", swap=0, **kw)


@pytest.mark.parametrize("value", ["3", 3.0, True, None, [3]])
def test_engine_bad_page_cluster_type(value):
    with pytest.raises(TypeError, match="page_cluster"):
        pymemcg.Engine(ram="1M", swap=0, page_cluster=value)


@pytest.mark.parametrize("value", [-1, 17, 2**70])
def test_engine_bad_page_cluster_value(value):
    with pytest.raises(ValueError, match="page_cluster"):
        pymemcg.Engine(ram="1M", swap=0, page_cluster=value)


@pytest.mark.parametrize("value", ["0", 1.5, None, True, [0]])
def test_engine_bad_seed_type(value):
    # the same mistake as page_cluster="3": a wrong type is a TypeError
    with pytest.raises(TypeError, match="seed"):
        pymemcg.Engine(ram="1M", swap=0, seed=value)


@pytest.mark.parametrize("value", [-1, 2**64])
def test_engine_bad_seed_value(value):
    with pytest.raises(ValueError, match="seed"):
        pymemcg.Engine(ram="1M", swap=0, seed=value)


@pytest.mark.parametrize("name", ["swap_account", "laptop_mode"])
@pytest.mark.parametrize("value", ["yes", "False", None, 2, 1.0, [True]])
def test_engine_bad_bool_type(name, value):
    with pytest.raises(TypeError, match=name):
        pymemcg.Engine(ram="1M", swap=0, **{name: value})


def test_engine_good_settings():
    e = pymemcg.Engine(ram="1M", swap="1M", kernel="2.6.31", hook="seed", swap_account=0,
                       page_cluster=0, laptop_mode=np.bool_(True), seed=2**64 - 1)
    assert e.settings == dict(ram=1 << 20, swap=1 << 20, kernel="2.6.31", hook="seed", swap_account=False,
                              page_cluster=0, laptop_mode=True, seed=2**64 - 1)


# ---------------------------------------------------------------- vpns

BAD_TYPE = {
    "float": 1.0,
    "np.float64": np.float64(3),
    "float array": np.array([1.0, 2.0]),
    "empty float array": np.zeros(0),
    "bool": True,
    "np.bool_": np.bool_(False),
    "bool array": np.array([True, False]),
    "bool list": [True, False],
    "str": "5",
    "str list": ["1", "2"],
    "str array": np.array(["1"]),
    "bytes": b"\x01",
    "None": None,
    "dict": {1: 2},
    "set": {1, 2},
    "complex": 1j,
    "object array": np.array([1, None], dtype=object),
    "mixed list": [1, 2.5],
    "datetime array": np.array([1], dtype="M8[s]"),
    "timedelta array": np.array([1], dtype="m8[s]"),
    "memoryview": memoryview(b"abcd"),
}
BAD_VALUE = {
    "2-D array": np.arange(4, dtype=np.int64).reshape(2, 2),
    "2-D empty": np.zeros((0, 2), np.int64),
    "non-contiguous": np.arange(20, dtype=np.int64)[::2],
    "non-contiguous reversed": np.arange(20, dtype=np.int64)[::-1],
    "negative int": -1,
    "negative array": np.array([0, -1], dtype=np.int64),
    "negative int8": np.array([5, -3], dtype=np.int8),
    "negative list": [1, -5],
    "negative range": range(-1, 3),
    "reversed range into negatives": range(3, -3, -1),
    "2**36": VPN_LIMIT,
    "2**36 array": np.array([VPN_LIMIT], dtype=np.int64),
    "range crossing 2**36": range(VPN_LIMIT - 1, VPN_LIMIT + 1),
    "stepped range crossing 2**36": range(VPN_LIMIT - 2, VPN_LIMIT + 2, 2),
    "2**63-1": 2**63 - 1,
    "-2**63": -(2**63),
    "2**70": 2**70,
    "-2**70": -(2**70),
    "range at 2**70": range(2**70, 2**70 + 1),
    "uint64 2**63": np.array([2**63], dtype=np.uint64),
    "uint64 2**64-1": np.array([1, 2**64 - 1], dtype=np.uint64),
    "np.uint64 scalar 2**63": np.uint64(2**63),
    "int64 min": np.array([np.iinfo(np.int64).min], dtype=np.int64),
}


def _calls(t):
    return {
        "fault": lambda v: t.fault(v),
        "fault-read": lambda v: t.fault(v, write=False),
        "munmap": lambda v: t.munmap(v),
        "zap": lambda v: t.zap(v, flush=False),
        "mlock": lambda v: t.mlock(v),
    }


CALLS = ["fault", "fault-read", "munmap", "zap", "mlock"]


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("case", list(BAD_TYPE))
def test_vpns_bad_type(busy, unchanged, call, case):
    eng, t, _ = busy
    with unchanged(eng):
        with pytest.raises(TypeError, match="vpns"):
            _calls(t)[call](BAD_TYPE[case])


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("case", list(BAD_VALUE))
def test_vpns_bad_value(busy, unchanged, call, case):
    eng, t, _ = busy
    with unchanged(eng):
        with pytest.raises(ValueError, match="vpn"):
            _calls(t)[call](BAD_VALUE[case])


def test_vpns_huge_python_ints_in_a_list(busy, unchanged):
    eng, t, _ = busy
    for bad in ([2**70], [1, 2, 2**64], [-(2**70)]):
        with unchanged(eng):
            with pytest.raises((TypeError, ValueError)):
                t.fault(bad)


def test_vpn_messages_say_what_was_wrong(busy):
    eng, t, _ = busy
    with pytest.raises(ValueError, match=r"vpns\[3\] = -7"):
        t.fault(np.array([0, 1, 2, -7], dtype=np.int64))
    with pytest.raises(ValueError, match=str(VPN_LIMIT)):
        t.munmap(np.array([VPN_LIMIT], dtype=np.int64))
    with pytest.raises(ValueError, match="one-dimensional"):
        t.fault(np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match="contiguous"):
        t.fault(np.arange(10)[::2])
    with pytest.raises(TypeError, match="float64"):
        t.fault(np.arange(3.0))
    with pytest.raises(ValueError, match=str(2**63)):
        t.fault(np.array([2**63], dtype=np.uint64))


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("last", [-1, VPN_LIMIT, 2**62, "u64"])
def test_bad_last_vpn_applies_nothing(eng, unchanged, call, last):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(0, 2000, 2))                      # something for munmap/zap/mlock to act on
    if last == "u64":
        vpns = np.arange(2000, dtype=np.uint64)
        vpns[-1] = 2**63 + 5
    else:
        vpns = np.arange(2000, dtype=np.int64)
        vpns[-1] = last
    with unchanged(eng):
        with pytest.raises(ValueError):
            _calls(t)[call](vpns)
    assert t.rss == 1000 and cg.usage_in_bytes == 1000 * P and t.gather_pending == 0
    assert eng.meminfo()["Mlocked"] == 0
    # the same batch without the bad vpn does apply
    assert _calls(t)[call](vpns[:-1].astype(np.int64)) in (1999, 1000)


def test_bad_last_vpn_of_stepped_range(eng, unchanged):
    t = eng.spawn()
    t.fault(range(0, 100))
    with unchanged(eng):
        with pytest.raises(ValueError):
            t.munmap(range(0, VPN_LIMIT + 4, VPN_LIMIT // 4))   # 0, 2**34, ... 2**36


def test_vpns_other_integer_layouts_work(eng):
    t = eng.spawn()
    assert t.fault(np.array([11, 12], dtype=">i8")) == 2               # byte-swapped
    assert t.fault(np.array([7], dtype=np.uint32)) == 1
    assert t.fault(np.array([3], dtype=np.int8)) == 1
    ro = np.arange(20, 23, dtype=np.int64)
    ro.flags.writeable = False
    assert t.fault(ro) == 3                                             # read-only buffer
    assert t.fault(np.arange(40, dtype=np.int64)[30:]) == 10            # offset view
    assert t.fault(np.uint64(50)) == 1 and t.fault(np.int32(51)) == 1
    assert t.fault((60, 61)) == 2 and t.fault([]) == 0
    assert t.fault(range(75, 70, -1)) == 5
    assert t.fault(VPN_LIMIT - 1) == 1                                  # the last valid vpn
    unaligned = np.frombuffer(bytes(8 * 4 + 1), dtype=np.int64, offset=1, count=4)
    assert not unaligned.flags.aligned
    assert t.fault(unaligned) == 4                                      # vpn 0, four times
    for v in (11, 12, 7, 3, 20, 21, 22, 30, 39, 50, 51, 60, 61, 71, 75, 0, VPN_LIMIT - 1):
        assert t.pte(v) & pymemcg.PTE_PRESENT, v
    assert t.rss == 2 + 1 + 1 + 3 + 10 + 2 + 2 + 5 + 1 + 1
    assert eng.root.usage_in_bytes == t.rss * P


def test_vpns_bad_write_flag_still_validates_vpns(busy, unchanged):
    eng, t, _ = busy
    with unchanged(eng):
        with pytest.raises(ValueError):
            t.fault(-1, write=False)


def test_pte_lookup_bad_vpn(busy):
    eng, t, _ = busy
    for bad in (-1, VPN_LIMIT):
        with pytest.raises(ValueError):
            t.pte(bad)


# ---------------------------------------------------------------- huge ranges


def _run_isolated(code, timeout, mem_limit=1 << 30):
    """Run code in a fresh interpreter with its address space capped, so that a call
    that would take all of the host's memory fails there instead of here."""
    prog = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({mem_limit}, {mem_limit}))
        import pymemcg
    """) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=timeout)


def test_fault_of_whole_address_space_fails_fast():
    # 2**36 vpns on a 256-frame machine cannot fit: the task runs out of frames, direct
    # reclaim frees nothing (no swap) and the global OOM killer ends it after ~256 pages,
    # without ever building page tables for the rest of the range.
    r = _run_isolated("""
        import time
        eng = pymemcg.Engine(ram="1M", swap=0)
        t = eng.spawn()
        t.fault(range(10))
        t0 = time.time()
        n = t.fault(range(2**36))
        print("touched", n, "seconds", round(time.time() - t0, 2))
        eng.check()
        assert t.oom_killed and n == 256, n   # 10 present + 246 new
        u = eng.spawn()
        assert u.fault(range(10)) == 10
        print("ok")
    """, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, (r.stdout, r.stderr)


def test_munmap_of_whole_address_space_is_fast():
    # munmap(0, 2**36 pages) of a task with a few pages: zap_page_range walks the page
    # tables, it does not visit 6.9e10 empty ptes one by one.
    r = _run_isolated("""
        eng = pymemcg.Engine(ram="1M", swap=0)
        t = eng.spawn()
        t.fault(range(10))
        t.fault(range(2**35, 2**35 + 5))
        print(t.munmap(range(2**36)), t.rss)
    """, timeout=10)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["15", "0"]


# ---------------------------------------------------------------- dead tasks


def _dead_calls(eng, t):
    other = eng.mkdir("other")
    return {
        "fault": lambda: t.fault(0),
        "fault-range": lambda: t.fault(range(5)),
        "fault-empty": lambda: t.fault([]),
        "munmap": lambda: t.munmap(0),
        "zap": lambda: t.zap(range(3), flush=False),
        "zap-flush": lambda: t.zap(0, flush=True),
        "tlb_flush": lambda: t.tlb_flush(),
        "fork": lambda: t.fork(),
        "exit": lambda: t.exit(),
        "mlock": lambda: t.mlock(range(2)),
        "move": lambda: t.move(other),
        "move-root": lambda: t.move(eng.root),
        "pte": lambda: t.pte(0),
    }


DEAD_CALLS = ["fault", "fault-range", "fault-empty", "munmap", "zap", "zap-flush", "tlb_flush", "fork", "exit",
              "mlock", "move", "move-root", "pte"]


@pytest.mark.parametrize("call", DEAD_CALLS)
def test_exited_task_raises_task_dead(busy, unchanged, call):
    eng, t, c = busy
    calls = _dead_calls(eng, t)
    t.exit()
    assert not t.alive and not t.oom_killed
    with unchanged(eng):
        with pytest.raises(pymemcg.TaskDead):
            calls[call]()
    assert c.alive                                  # the child is untouched
    assert issubclass(pymemcg.TaskDead, pymemcg.Error)


@pytest.mark.parametrize("call", DEAD_CALLS)
def test_oom_killed_task_raises_task_dead(eng, unchanged, call):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = 32 * P
    t = eng.spawn(cg)
    survivor = eng.spawn(eng.root)
    survivor.fault(range(4))
    calls = _dead_calls(eng, t)
    assert t.fault(range(40)) == 32
    assert t.oom_killed and not t.alive
    with unchanged(eng):
        with pytest.raises(pymemcg.TaskDead, match="OOM|oom|not alive"):
            calls[call]()


def test_bad_vpns_on_dead_task_do_not_crash(busy, unchanged):
    eng, t, _ = busy
    t.exit()
    for bad in (-1, np.arange(4.0), np.zeros((2, 2), np.int64), VPN_LIMIT):
        with unchanged(eng):
            with pytest.raises((pymemcg.TaskDead, TypeError, ValueError)):
                t.fault(bad)


def test_dead_task_properties_still_readable(busy):
    eng, t, _ = busy
    cg = t.cgroup
    t.exit()
    assert t.alive is False and t.oom_killed is False
    assert t.rss == 0 and t.swap_ptes == 0 and t.gather_pending == 0
    assert t.cgroup is cg
    assert t.pid not in [x.pid for x in cg.tasks]
    assert "dead" in repr(t)


# ---------------------------------------------------------------- cgroups


def test_unknown_cgroup_lookup(busy, unchanged):
    eng, t, _ = busy
    for path in ("nope", "/nope", "a/nope", "nope/deeper"):
        with unchanged(eng):
            with pytest.raises(pymemcg.CgroupError) as ei:
                eng.cgroup(path)
        assert ei.value.errno == errno.ENOENT
        assert isinstance(ei.value, OSError)
    with unchanged(eng):
        with pytest.raises(pymemcg.CgroupError) as ei:
            eng.spawn("nope")
    assert ei.value.errno == errno.ENOENT
    with unchanged(eng):
        with pytest.raises(pymemcg.CgroupError) as ei:
            t.move("nope")
    assert ei.value.errno == errno.ENOENT
    with unchanged(eng):
        with pytest.raises(pymemcg.CgroupError) as ei:
            eng.mkdir("nope/child")
    assert ei.value.errno == errno.ENOENT


def test_bad_cgroup_path_types(busy, unchanged):
    eng, t, _ = busy
    for bad in (None, 1, b"a", ["a"]):
        with unchanged(eng):
            with pytest.raises(TypeError):
                eng.cgroup(bad)
    for bad in (1, b"a", 2.0, object()):
        with unchanged(eng):
            with pytest.raises(TypeError):
                eng.spawn(bad)
        with unchanged(eng):
            with pytest.raises(TypeError):
                t.move(bad)
    with unchanged(eng):
        with pytest.raises(TypeError):
            t.move(None)
    for bad in ("a/../b", "a//b", "./a"):
        with unchanged(eng):
            with pytest.raises((ValueError, pymemcg.CgroupError)):
                eng.cgroup(bad)


def test_removed_cgroup(busy, unchanged):
    eng, t, _ = busy
    gone = eng.mkdir("gone")
    sub = eng.mkdir("b/sub")
    u = eng.spawn(gone)
    u.fault(range(5))
    u.exit()
    gone.rmdir()
    sub.rmdir()
    for cg, path in ((gone, "gone"), (sub, "b/sub")):
        with unchanged(eng):
            with pytest.raises(pymemcg.CgroupError) as ei:
                eng.spawn(cg)
        assert ei.value.errno == errno.ENOENT
        with unchanged(eng):
            with pytest.raises(pymemcg.CgroupError) as ei:
                t.move(cg)
        assert ei.value.errno == errno.ENOENT
        with unchanged(eng):
            with pytest.raises(pymemcg.CgroupError) as ei:
                eng.cgroup(path)
        assert ei.value.errno == errno.ENOENT
        with unchanged(eng):
            with pytest.raises(pymemcg.CgroupError) as ei:
                eng.spawn(path)
        assert ei.value.errno == errno.ENOENT
        for action in (cg.rmdir, cg.force_empty, cg.stat, lambda: cg.tasks,
                       lambda: cg.read("memory.usage_in_bytes"),
                       lambda: cg.write("memory.limit_in_bytes", "1M"),
                       lambda: eng.mkdir(path + "/child")):
            with unchanged(eng):
                with pytest.raises(pymemcg.CgroupError) as ei:
                    action()
            assert ei.value.errno == errno.ENOENT
    assert t.cgroup.path == "/a"
    # the name can be reused; the old handle still names the removed cgroup
    again = eng.mkdir("gone")
    assert again is not gone and eng.cgroup("gone") is again
    eng.spawn(again)
    with pytest.raises(pymemcg.CgroupError):
        eng.spawn(gone)


def test_cgroup_of_another_engine(busy, unchanged):
    eng, t, _ = busy
    other = pymemcg.Engine(ram="1M", swap=0)
    foreign_a = other.mkdir("a")                    # same path, and the same id, as eng's "a"
    for cg in (other.root, foreign_a):
        with unchanged(eng), unchanged(other):
            with pytest.raises(TypeError):
                eng.spawn(cg)
        with unchanged(eng), unchanged(other):
            with pytest.raises(TypeError):
                t.move(cg)
    assert t.cgroup is eng.cgroup("a")


def test_move_and_spawn_do_not_accept_tasks_or_engines(busy, unchanged):
    eng, t, c = busy
    for bad in (c, eng, pymemcg.Engine(ram="4k", swap=0)):
        with unchanged(eng):
            with pytest.raises(TypeError):
                eng.spawn(bad)
        with unchanged(eng):
            with pytest.raises(TypeError):
                t.move(bad)
