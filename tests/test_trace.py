"""The trace format (pymemcg.trace): the 24-byte event, Builder, lossless .npy/.csv round
trips (mkdir name events included), memory-mapped loading, and malformed traces, files and
events: each raises TraceError naming the event index (or file:line) and applies nothing.

conftest.py runs eng.check() on every engine when each test ends; ``unchanged(eng)``
asserts that every page array, swap_map, swap_cgroup, counter, meminfo field, cgroup file
and task of the engine is the same after the block as before it."""
import numpy as np
import pytest

import pymemcg
from pymemcg import TraceError
from pymemcg import trace as T
from pymemcg.trace import OP, TRACE_DTYPE, WRITE_FILE, Builder, empty, mkdir_names

K = 1024
M = 1 << 20
P = pymemcg.PAGE_SIZE


def ev(op, cpu=0, flags=0, task=0, vpn=0, count=0):
    """One raw event (op by name or number)."""
    e = empty(1)
    e[0] = (OP[op] if isinstance(op, str) else op, cpu, flags, task, vpn, count)
    return e


def cat(*parts):
    return np.concatenate(parts)


def name_words(name):
    """The (vpn, count) pairs of the name events that carry `name`, decoded independently."""
    raw = name.encode("utf-8")
    raw += b"\0" * (-len(raw) % 16)
    return [(int.from_bytes(raw[i:i + 8], "little", signed=True),
             int.from_bytes(raw[i + 8:i + 16], "little", signed=True)) for i in range(0, len(raw), 16)]


def rows(trace):
    return [tuple(int(x) for x in e) for e in trace]


# -- the format ------------------------------------------------------------------------------------

def test_event_is_24_bytes_with_the_documented_fields():
    assert TRACE_DTYPE.itemsize == 24
    assert TRACE_DTYPE.names == ("op", "cpu", "flags", "task", "vpn", "count")
    assert [TRACE_DTYPE.fields[n][0].str for n in TRACE_DTYPE.names] == ["|u1", "|u1", "<u2", "<u4", "<i8", "<i8"]
    assert T.OPS == ("spawn", "fault", "munmap", "fork", "exit", "mlock", "move", "mkdir", "name", "write",
                     "reclaim", "rmdir")
    assert [OP[o] for o in T.OPS] == list(range(1, 13))
    assert empty(3).dtype == TRACE_DTYPE and len(empty(3)) == 3 and not empty(3).view(np.uint8).any()


def scripted():
    """Every Builder call once; returns the builder's trace and its ids."""
    b = Builder()
    a = b.mkdir("a", limit="1M")
    ab = b.mkdir("/a/b/", limit=2 * M, memsw_limit=4 * M)
    b.write("a", "memory.swappiness", 10)
    t = b.spawn("a/b", cpu=1)
    u = b.spawn("", cpu=0)
    b.fault(t, 5, 7)
    b.fault(u, 2**36 - 1, 1, write=False)
    c = b.fork(t)
    d = b.fork(u, cpu=3)
    b.mlock(c, 1, 2)
    b.munmap(t, 6, 3)
    b.move(c, "a")
    b.reclaim("a/b", nr=16, cpu=2)
    b.reclaim(None)
    b.exit(c)
    b.exit(t)
    b.exit(d)
    b.exit(u)
    b.rmdir("a/b")
    return b.build(), (a, ab, t, u, c, d)


def test_builder_emits_exactly_the_documented_events():
    tr, (a, ab, t, u, c, d) = scripted()
    assert (a, ab, t, u, c, d) == (1, 2, 0, 1, 2, 3)
    assert tr.dtype == TRACE_DTYPE and tr.ndim == 1
    (wa,), (wb,) = name_words("a"), name_words("b")
    lim, msw, swp = (WRITE_FILE[f] for f in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                              "memory.swappiness"))
    assert (lim, msw, swp) == (1, 2, 3)
    expected = [
        # op,          cpu, flags, task, vpn, count
        (OP["mkdir"], 0, 0, 1, 0, 1), (OP["name"], 0, 0, 0) + wa,
        (OP["write"], 0, lim, 1, 0, M),
        (OP["mkdir"], 0, 0, 2, 1, 1), (OP["name"], 0, 0, 0) + wb,
        (OP["write"], 0, lim, 2, 0, 2 * M),          # the limit first: memsw may not go below it
        (OP["write"], 0, msw, 2, 0, 4 * M),
        (OP["write"], 0, swp, 1, 0, 10),
        (OP["spawn"], 1, 0, 0, 2, 0),                # task = new id, vpn = cgroup
        (OP["spawn"], 0, 0, 1, 0, 0),
        (OP["fault"], 1, 1, 0, 5, 7),                # flags bit 0 = write
        (OP["fault"], 0, 0, 1, 2**36 - 1, 1),
        (OP["fork"], 1, 0, 0, 2, 0),                 # child on the parent's CPU
        (OP["fork"], 0, 0, 1, 3, 0),
        (OP["mlock"], 1, 0, 2, 1, 2),                # the child inherited CPU 1
        (OP["munmap"], 1, 0, 0, 6, 3),
        (OP["move"], 1, 0, 2, 1, 0),
        (OP["reclaim"], 2, 0, 2, 0, 16),
        (OP["reclaim"], 0, 1, 0, 0, 32),             # global: flags bit 0
        (OP["exit"], 1, 0, 2, 0, 0),
        (OP["exit"], 1, 0, 0, 0, 0),
        (OP["exit"], 3, 0, 3, 0, 0),
        (OP["exit"], 0, 0, 1, 0, 0),
        (OP["rmdir"], 0, 0, 2, 0, 0),
    ]
    assert rows(tr) == expected
    assert mkdir_names(tr) == {0: "a", 3: "b"}


def test_limit_values_are_page_aligned_bytes():
    b = Builder()
    b.mkdir("x", limit="64k")
    b.write("x", "memory.limit_in_bytes", "1g")
    b.write("x", "memory.limit_in_bytes", 5000)          # kept as written; the engine aligns it up
    tr = b.build()
    w = tr[tr["op"] == OP["write"]]
    assert w["count"].tolist() == [64 * K, 1 << 30, 5000]
    assert (w["count"][:2] % P == 0).all()
    eng = pymemcg.Engine("4M", "4M")
    res = eng.replay(tr, cpus=1)
    assert res.stats["refused"] == 0
    assert eng.cgroup("x").limit_in_bytes == 2 * P      # 5000 rounded up to a page, as the kernel does
    ref = pymemcg.Engine("4M", "4M").mkdir("x")
    ref.write("memory.limit_in_bytes", "5000")
    assert ref.limit_in_bytes == 2 * P


@pytest.mark.parametrize("name", ["x", "sixteen-bytes-nm", "seventeen-bytes-n", "ünïcødé-ćgroüp-名前",
                                  "a" * 255, "with, comma \"and\" quotes"])
def test_mkdir_name_events_carry_the_name(name):
    b = Builder()
    b.mkdir(name)
    tr = b.build()
    n = len(name.encode())
    k = -(-n // 16)
    assert len(tr) == 1 + k
    assert rows(tr[:1]) == [(OP["mkdir"], 0, 0, 1, 0, n)]
    assert (tr["op"][1:] == OP["name"]).all()
    assert list(zip(tr["vpn"][1:].tolist(), tr["count"][1:].tolist())) == name_words(name)
    assert mkdir_names(tr) == {0: name}


def test_builder_misuse_raises_trace_error():
    b = Builder()
    b.mkdir("a")
    t = b.spawn("a")
    b.exit(t)
    cases = [
        lambda: b.mkdir("a"),                   # exists
        lambda: b.mkdir("/a/"),                 # exists, spelled differently
        lambda: b.mkdir("nope/x"),              # parent missing
        lambda: b.mkdir(""),
        lambda: b.mkdir("a/.."),
        lambda: b.mkdir("a/."),
        lambda: b.fault(t, 0),                  # exited
        lambda: b.fault(99, 0),                 # never spawned
        lambda: b.munmap(t, 0),
        lambda: b.mlock(t, 0),
        lambda: b.fork(t),
        lambda: b.exit(t),
        lambda: b.move(t, "a"),
        lambda: b.spawn("nope"),
        lambda: b.write("a", "memory.usage_in_bytes", 1),
        lambda: b.write("nope", "memory.limit_in_bytes", 1),
        lambda: b.reclaim("nope"),
        lambda: b.rmdir("nope"),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(TraceError):
            case()
    b.rmdir("a")
    with pytest.raises(TraceError):
        b.spawn("a")
    with pytest.raises(TraceError):
        b.rmdir("a")
    assert issubclass(TraceError, pymemcg.Error)


def test_refused_builder_call_changes_nothing():
    b = Builder()
    with pytest.raises(TraceError):
        b.spawn("nope")
    with pytest.raises(TraceError):
        b.fault(0, 0)                           # task 0 was never spawned
    t = b.spawn("")
    assert t == 0


def test_empty_builder_builds_an_empty_trace():
    tr = Builder().build()
    assert tr.dtype == TRACE_DTYPE and len(tr) == 0
    res = pymemcg.Engine("1M", "0").replay(tr, cpus=2)
    assert res.events == 0 and res.stats["events"] == 0


def test_extend_appends_ready_made_events():
    b = Builder()
    t = b.spawn("")
    extra = cat(ev("fault", task=t, vpn=3, count=2, flags=1), ev("exit", task=t))
    b.extend(extra)
    assert rows(b.build()) == [(OP["spawn"], 0, 0, 0, 0, 0), (OP["fault"], 0, 1, 0, 3, 2), (OP["exit"], 0, 0, 0, 0, 0)]


# -- files -----------------------------------------------------------------------------------------

def rich_trace():
    """A trace with every op, nested and UTF-8 and long names, negative and large fields."""
    b = Builder()
    b.mkdir("a", limit="1M", memsw_limit="2M")
    b.mkdir("a/ünïcødé-名前-longer-than-sixteen-bytes")
    b.mkdir("sixteen-bytes-nm")
    b.mkdir("with, comma \"and\" quotes")
    t = b.spawn("a/ünïcødé-名前-longer-than-sixteen-bytes", cpu=255)
    b.fault(t, 2**36 - 5, 5)
    b.fault(t, 0, 1, write=False)
    c = b.fork(t, cpu=7)
    b.mlock(c, 0, 3)
    b.munmap(c, 1, 1)
    b.move(c, "sixteen-bytes-nm")
    b.reclaim("a", nr=1 << 30)
    b.reclaim()
    b.write("a", "memory.force_empty", 0)
    b.write("a", "memory.failcnt", 0)
    b.write("a", "memory.max_usage_in_bytes", 0)
    b.write("a", "memory.use_hierarchy", 1)
    b.exit(c)
    b.exit(t)
    b.rmdir("with, comma \"and\" quotes")
    tr = b.build()
    # raw fields the Builder never writes: negative vpn, large task ids, odd flags
    return cat(tr, ev("fault", cpu=3, flags=0xffff, task=2**32 - 1, vpn=-(2**63), count=2**63 - 1))


@pytest.mark.parametrize("ext", ["npy", "csv"])
def test_file_round_trip_is_lossless(tmp_path, ext):
    tr = rich_trace()
    path = tmp_path / f"t.{ext}"
    T.save(tr, path)
    back = T.load(path)
    assert back.dtype == TRACE_DTYPE and back.shape == tr.shape
    assert np.array_equal(back, tr)
    assert back.tobytes() == tr.tobytes()
    assert mkdir_names(back) == mkdir_names(tr)
    # str paths work too, and saving what was loaded gives the same file
    T.save(back, str(tmp_path / f"u.{ext}"))
    assert (tmp_path / f"u.{ext}").read_bytes() == path.read_bytes()


def test_csv_is_readable_by_people(tmp_path):
    b = Builder()
    b.mkdir("web", limit="2M")
    t = b.spawn("web", cpu=1)
    b.fault(t, 10, 4)
    b.exit(t)
    T.save(b.build(), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "op,cpu,task,vpn,count,flags,name",
        "mkdir,0,1,0,3,0,web",
        "write,0,1,0,2097152,1,",
        "spawn,1,0,1,0,0,",
        "fault,1,0,10,4,1,",
        "exit,1,0,0,0,0,",
    ]
    assert T.to_csv_text(b.build()).encode() == (tmp_path / "t.csv").read_bytes()


def test_npy_load_is_memory_mapped(tmp_path):
    tr = rich_trace()
    T.save(tr, tmp_path / "t.npy")
    mm = T.load(tmp_path / "t.npy")
    assert isinstance(mm, np.memmap)
    assert not mm.flags.owndata and not mm.flags.writeable
    assert np.array_equal(mm, tr)
    whole = T.load(tmp_path / "t.npy", mmap=False)
    assert not isinstance(whole, np.memmap)
    assert np.array_equal(whole, tr)


def test_save_refuses_other_extensions_and_layouts(tmp_path):
    with pytest.raises(ValueError, match=r"\.npy or \.csv"):
        T.save(empty(1), tmp_path / "t.txt")
    with pytest.raises(TraceError):
        T.save(np.zeros(3, np.int64), tmp_path / "t.npy")
    assert not (tmp_path / "t.npy").exists()
    with pytest.raises(TraceError, match="t.txt"):
        T.load(tmp_path / "t.txt")


def test_truncated_and_corrupt_npy_raise_trace_error_naming_the_file(tmp_path):
    T.save(rich_trace(), tmp_path / "good.npy")
    raw = (tmp_path / "good.npy").read_bytes()
    (tmp_path / "half.npy").write_bytes(raw[:len(raw) - 30])
    (tmp_path / "header.npy").write_bytes(raw[:40])
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file at all" * 10)
    (tmp_path / "empty.npy").write_bytes(b"")
    for name in ("half.npy", "header.npy", "junk.npy", "empty.npy", "missing.npy"):
        for mmap in (True, False):
            with pytest.raises(TraceError, match=name):
                T.load(tmp_path / name, mmap=mmap)
        eng = pymemcg.Engine("1M", "0")
        with pytest.raises(TraceError, match=name):
            eng.replay(str(tmp_path / name))


def test_npy_of_another_dtype_or_shape_raises_trace_error(tmp_path):
    np.save(tmp_path / "ints.npy", np.arange(12))
    np.save(tmp_path / "2d.npy", empty(4).reshape(2, 2))
    np.save(tmp_path / "big.npy", empty(2).astype(TRACE_DTYPE.newbyteorder(">")))
    for name in ("ints.npy", "2d.npy", "big.npy"):
        with pytest.raises(TraceError, match=name):
            T.load(tmp_path / name)


def test_wrong_dtype_array_raises_trace_error(unchanged):
    eng = pymemcg.Engine("1M", "1M")
    eng.spawn().fault(range(8))
    bad = [np.zeros(10, np.int64), empty(4).reshape(2, 2), [1, 2, 3],
           empty(2).astype(TRACE_DTYPE.newbyteorder(">")),
           np.zeros(2, [("op", "u1"), ("cpu", "u1"), ("flags", "<u2"), ("task", "<u4"), ("vpn", "<i8")])]
    with unchanged(eng):
        for arr in bad:
            with pytest.raises(TraceError, match="TRACE_DTYPE"):
                eng.replay(arr)
            with pytest.raises(TraceError):
                T.as_trace(arr)


CSV_HEAD = "op,cpu,task,vpn,count,flags,name\n"


@pytest.mark.parametrize("text, where", [
    ("", ":"),                                                       # no header
    ("op,cpu,task\nspawn,0,0\n", ":"),                               # wrong header
    ("op,task,cpu,vpn,count,flags,name\nspawn,0,0,0,0,0,\n", ":"),   # columns swapped
    (CSV_HEAD + "spawn,0,0,0,0,0,\nfault,0,0,x,1,1,\n", ":3:"),      # not a number
    (CSV_HEAD + "spawn,0,0,0,0,0,\nfault,0,0,1,1,1\n", ":3:"),       # a field short
    (CSV_HEAD + "spawn,0,0,0,0,0,\nfault,0,0,1,1,1,,\n", ":3:"),     # a field too many
    (CSV_HEAD + "spawn,0,0,0,0,0,\nbogus,0,0,1,1,0,\n", ":3:"),      # unknown op
    (CSV_HEAD + "name,0,0,0,0,0,\n", ":2:"),                         # name events are implicit
    (CSV_HEAD + "mkdir,0,1,0,5,0,abc\n", ":2:"),                     # count is not the name's length
    (CSV_HEAD + "spawn,256,0,0,0,0,\n", ":2:"),                      # cpu out of u1
    (CSV_HEAD + "spawn,0,-1,0,0,0,\n", ":2:"),                       # task out of u4
    (CSV_HEAD + "fault,0,0,9223372036854775808,1,0,\n", ":2:"),      # vpn out of i8
])
def test_bad_csv_raises_trace_error_naming_file_and_line(tmp_path, text, where):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        T.load(path)
    assert f"{path}{where}" in str(err.value)
    eng = pymemcg.Engine("1M", "0")
    with pytest.raises(TraceError):
        eng.replay(str(path))


# -- malformed events --------------------------------------------------------------------------------

SP = ev("spawn", task=0, vpn=0)


def mkdir_events(name):
    b = Builder()
    b.mkdir(name)
    return b.build()


NM = mkdir_events("a")                                  # mkdir of cgroup 1 + its name event
LONG_NAME = mkdir_events("a-name-longer-than-16-bytes")  # mkdir + 2 name events

BAD = {
    # trace, index of the bad event, words the message holds
    "unknown op 99": (cat(SP, ev(99)), 1, "unknown op 99"),
    "unknown op 0": (cat(SP, ev(0)), 1, "unknown op 0"),
    "fault before spawn": (cat(ev("fault", count=1)), 0, "before it was spawned"),
    "munmap before spawn": (cat(SP, ev("munmap", task=1, count=1)), 1, "before it was spawned"),
    "exit before spawn": (cat(ev("exit", task=3)), 0, "before it was spawned"),
    "fork of unknown": (cat(ev("fork", task=0, vpn=1)), 0, "before it was spawned"),
    "fault after exit": (cat(SP, ev("exit"), ev("fault", count=1)), 2, "after its exit"),
    "exit twice": (cat(SP, ev("exit"), ev("exit")), 2, "after its exit"),
    "move after exit": (cat(SP, ev("exit"), ev("move")), 2, "after its exit"),
    "spawn existing": (cat(SP, SP), 1, "already exists"),
    "spawn of an exited id": (cat(SP, ev("exit"), SP), 2, "already exists"),
    "fork to self": (cat(SP, ev("fork", task=0, vpn=0)), 1, "already exists"),
    "fork to existing": (cat(SP, ev("spawn", task=1), ev("fork", task=0, vpn=1)), 2, "already exists"),
    "fork child id too big": (cat(SP, ev("fork", task=0, vpn=2**32)), 1, "out of range"),
    "task id too big": (cat(ev("spawn", task=2**26)), 0, "too large"),
    "spawn in missing cgroup": (cat(ev("spawn", task=0, vpn=3)), 0, "cgroup 3 does not exist"),
    "spawn in negative cgroup": (cat(ev("spawn", task=0, vpn=-1)), 0, "cgroup -1 does not exist"),
    "move to missing cgroup": (cat(SP, ev("move", vpn=1)), 1, "cgroup 1 does not exist"),
    "write to missing cgroup": (cat(ev("write", task=5, flags=1, count=4096)), 0, "cgroup 5 does not exist"),
    "reclaim of missing cgroup": (cat(ev("reclaim", task=2, count=1)), 0, "cgroup 2 does not exist"),
    "rmdir of missing cgroup": (cat(ev("rmdir", task=2)), 0, "cgroup 2 does not exist"),
    "rmdir twice": (cat(NM, ev("rmdir", task=1), ev("rmdir", task=1)), 3, "cgroup 1 does not exist"),
    "spawn in removed cgroup": (cat(NM, ev("rmdir", task=1), ev("spawn", vpn=1)), 3, "cgroup 1 does not exist"),
    "rmdir root": (cat(ev("rmdir", task=0)), 0, "root"),
    "mkdir taken id": (cat(NM, NM), 2, "taken"),
    "mkdir id 0": (cat(ev("mkdir", task=0, count=1), NM[1:]), 0, "taken"),
    "mkdir under missing parent": (cat(ev("mkdir", task=1, vpn=4, count=1), NM[1:]), 0, "cgroup 4 does not exist"),
    "mkdir truncated (no name)": (cat(SP, NM[:1]), 1, "truncated"),
    "mkdir truncated (short name)": (cat(SP, LONG_NAME[:2]), 1, "truncated"),
    "mkdir followed by a non-name": (cat(LONG_NAME[:2], SP, LONG_NAME[2:]), 0, "name events"),
    "mkdir empty name": (cat(ev("mkdir", task=1, count=0), NM[1:]), 0, "1 to 255 bytes"),
    "mkdir name with slash": (cat(ev("mkdir", task=1, count=1), ev("name", vpn=ord("/"))), 0, "'/'"),
    "mkdir name dotdot": (cat(ev("mkdir", task=1, count=2), ev("name", vpn=ord(".") * 257)), 0, "'..'"),
    "name without mkdir": (cat(SP, NM[1:]), 1, "does not follow a mkdir"),
    "fault count 0": (cat(SP, ev("fault", count=0)), 1, "outside"),
    "fault count negative": (cat(SP, ev("fault", count=-1)), 1, "outside"),
    "fault vpn 2**36": (cat(SP, ev("fault", vpn=2**36, count=1)), 1, "outside"),
    "fault range past 2**36": (cat(SP, ev("fault", vpn=2**36 - 1, count=2)), 1, "outside"),
    "fault negative vpn": (cat(SP, ev("fault", vpn=-1, count=1)), 1, "outside"),
    "munmap count 0": (cat(SP, ev("munmap", count=0)), 1, "outside"),
    "mlock beyond 2**36": (cat(SP, ev("mlock", vpn=2**40, count=1)), 1, "outside"),
    "unknown fault flags": (cat(SP, ev("fault", flags=2, count=1)), 1, "unknown fault flags"),
    "unknown control file 0": (cat(ev("write", flags=0, count=1)), 0, "unknown control file 0"),
    "unknown control file 8": (cat(ev("write", flags=8, count=1)), 0, "unknown control file 8"),
    "negative control value": (cat(ev("write", flags=1, count=-1)), 0, "negative"),
    "reclaim of 0 pages": (cat(ev("reclaim", count=0)), 0, "reclaim of 0"),
    "unknown reclaim flags": (cat(ev("reclaim", flags=2, count=1)), 0, "unknown reclaim flags"),
}


def warm_engine():
    """An engine with state everywhere (mapped, swapped, cached, charged pages) to compare."""
    eng = pymemcg.Engine("1M", "2M")
    cg = eng.mkdir("w")
    cg.limit_in_bytes = 128 * K
    t = eng.spawn(cg)
    t.fault(range(100))
    t.fault(range(0, 100, 3), write=False)
    eng.spawn().fault(range(40))
    return eng


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_event_names_its_index_and_applies_nothing(case, unchanged):
    trace, index, words = BAD[case]
    eng = warm_engine()
    with unchanged(eng):
        with pytest.raises(TraceError) as err:
            eng.replay(trace, cpus=2)
    assert err.value.index == index
    assert str(err.value).startswith(f"event {index}: ")
    assert words in str(err.value)


def test_bad_event_at_the_end_of_a_long_trace_applies_nothing(unchanged):
    from pymemcg import workloads
    good = workloads.from_accesses(np.arange(1_100_000) % 5000, write=True)   # more than one chunk
    bad = cat(good, ev("fault", task=0, vpn=0, count=1, flags=4))
    eng = warm_engine()
    with unchanged(eng):
        with pytest.raises(TraceError) as err:
            eng.replay(bad, cpus=2, progress=False)
    assert err.value.index == len(good)
    assert str(err.value).startswith(f"event {len(good)}: unknown fault flags")


def test_error_index_is_global_across_chunks(unchanged):
    from pymemcg.replay import replay
    b = Builder()
    b.mkdir("a-name-longer-than-sixteen-bytes-and-more")   # 3 name events: chunks must not split them
    t = b.spawn("a-name-longer-than-sixteen-bytes-and-more")
    for i in range(40):
        b.fault(t, i)
    good = b.build()
    bad = cat(good[:30], ev("exit", task=9), good[30:])
    eng = warm_engine()
    for chunk in (1, 2, 3, 7, 1 << 20):
        with unchanged(eng):
            with pytest.raises(TraceError) as err:
                replay(eng, bad, cpus=2, chunk=chunk)
        assert err.value.index == 30
    # and the good trace is not affected by how it is chunked
    results = []
    for chunk in (1, 3, 1 << 20):
        e = warm_engine()
        replay(e, good, cpus=1, chunk=chunk, sample_every=0)
        results.append((e.counters(), np.array(e.pages.flags), np.array(e.swap_map)))
    for r in results[1:]:
        assert r[0] == results[0][0]
        assert np.array_equal(r[1], results[0][1]) and np.array_equal(r[2], results[0][2])


@pytest.mark.parametrize("sched", ["rr", "random"])
def test_chunking_never_changes_a_concurrent_replay(sched):
    """On several CPUs the scheduler looks ahead over a window of events; each chunk starts
    where the window stopped, so any chunking replays exactly as one chunk does."""
    from pymemcg import workloads
    from pymemcg.replay import replay
    trace = workloads.churn(rounds=30, cpus=3, seed=2)
    results = []
    for chunk in (1 << 20, 100, 257, 1000):
        e = pymemcg.Engine(ram="64M", swap="16M", seed=5)
        r = replay(e, trace, cpus=3, sched=sched, chunk=chunk, sample_every=50)
        results.append((e.counters(), r.stats, np.array(e.pages.flags), np.array(e.pages.lru_next),
                        np.array(e.swap_map), r.series["stale"]))
    assert results[0][1]["interleavings"] > 100
    for r in results[1:]:
        assert r[0] == results[0][0] and r[1] == results[0][1]
        for a, b in zip(r[2:], results[0][2:]):
            assert np.array_equal(a, b)


def test_engine_is_usable_after_a_refused_trace():
    from pymemcg import workloads
    good = workloads.churn(rounds=6)
    a, b = warm_engine(), warm_engine()
    with pytest.raises(TraceError):
        a.replay(cat(good, ev(77)), cpus=2)
    ra, rb = a.replay(good, cpus=2), b.replay(good, cpus=2)
    assert ra.stats == rb.stats and ra.counters == rb.counters and ra.leaks == rb.leaks
    for k in a.pages.keys():
        assert np.array_equal(a.pages[k], b.pages[k]), k
    assert np.array_equal(a.swap_map, b.swap_map)


def test_bad_replay_arguments_raise_value_error(unchanged):
    eng = warm_engine()
    tr = cat(SP, ev("fault", count=3))
    with unchanged(eng):
        for kw in (dict(cpus=0), dict(cpus=257), dict(cpus=True), dict(cpus=1.0), dict(sched="fifo"),
                   dict(seed=-1), dict(seed=2**64), dict(seed=1.5), dict(sample_every=-1), dict(sample_every=True)):
            with pytest.raises(ValueError):
                eng.replay(tr, **kw)
