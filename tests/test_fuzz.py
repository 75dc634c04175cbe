"""Fuzzing bad input (issue 6, item 5) with hypothesis.

* pymemcg.trace.load: random bytes and mutated valid traces written to .npy and .csv files.
  A malformed trace file raises TraceError (errors.py: "A malformed trace file or event");
  anything it returns is a 1-D TRACE_DTYPE array (which replay then either runs or refuses
  with TraceError).
* pymemcg.importers.load_foreign, every format: random and mutated bytes, plain, gzip, xz and
  damaged gzip/xz wrappers.  Malformed input raises TraceError (importers.py docstring).
* Cgroup.write of every control file (and a few that do not exist) with random text, ints and
  other objects: CgroupError (with the kernel's errno), ValueError or TypeError, and a refused
  write changes nothing (Cgroup.write) -- except the documented case of docs/semantics.md
  "Reclaim": a limit write below the usage, or force_empty, reclaims first and then answers
  EBUSY with that reclaim done.
* Engine.replay with random, mostly valid event arrays: either TraceError with nothing applied
  (the whole observable state is compared) or a completed replay after which eng.check()
  passes and the engine still works.

No input may crash the interpreter: a crash would kill the test run.

CI settings: a derandomized run of each test, ~100-300 examples; PYMEMCG_LONG=1 runs many more
with random seeds.

Library bugs this fuzzer found (fixed in pymemcg/trace.py since; the tests below stay as
regression tests): trace.load let tokenize.TokenError / SyntaxError (a damaged .npy header) and
UnicodeDecodeError (a .csv that is not UTF-8) escape instead of raising TraceError, and
trace.save to .csv wrote an event with op 0 as "rmdir" and crashed with IndexError on op > 12.
"""
import gzip
import lzma
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pymemcg
import pymemcg.trace as T
from pymemcg.importers import FORMATS, ORACLE_DTYPE, load_foreign

pytestmark = pytest.mark.usefixtures("debug_check")   # the full check after every operation

from pages import assert_same_state, snapshot

LONG = os.environ.get("PYMEMCG_LONG") == "1"


CI_SCALE = 3


def fuzz_settings(n):
    n *= CI_SCALE
    if LONG:
        return settings(max_examples=n * 30, deadline=None, suppress_health_check=list(HealthCheck),
                        report_multiple_bugs=False)
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), report_multiple_bugs=False)


# ------------------------------------------------------------------ helpers

def _sample_trace():
    b = T.Builder()
    b.mkdir("x", limit="64k")
    b.mkdir("x/y\u00e9")
    t = b.spawn("x")
    b.fault(t, 0, 20)
    c = b.fork(t, cpu=1)
    b.fault(c, 0, 5, write=True)
    b.mlock(c, 30, 2)
    b.munmap(t, 3, 4)
    b.move(c, "x/y\u00e9")
    b.reclaim("x", 8)
    b.reclaim(None, 4)
    b.exit(t)
    b.write("x", "memory.swappiness", 10)
    return b.build()


SAMPLE = _sample_trace()

# one edit of a byte string: (kind, position as a fraction, bytes)
edits = st.lists(st.tuples(st.sampled_from(["set", "insert", "delete", "truncate"]),
                           st.floats(0, 1, allow_nan=False), st.binary(min_size=1, max_size=8)),
                 min_size=1, max_size=4)


def mutate(data, ops, lo=0, hi=None):
    """Apply edits to data[lo:hi] (positions are fractions of that region)."""
    data = bytearray(data)
    for kind, frac, blob in ops:
        end = len(data) if hi is None else min(hi, len(data))
        if end <= lo:
            break
        i = lo + int(frac * (end - lo - 1))
        if kind == "set":
            data[i:i + len(blob)] = blob
        elif kind == "insert":
            data[i:i] = blob
        elif kind == "delete":
            del data[i:i + len(blob)]
        else:
            del data[i:]
    return bytes(data)


def _npy_bytes(trace, tmp_path):
    p = tmp_path / "valid.npy"
    T.save(trace, p)
    return p.read_bytes()


def _npy_header_len(raw):
    """Magic (6) + version (2) + header-length field + the header itself."""
    major = raw[6]
    if major == 1:
        return 10 + int.from_bytes(raw[8:10], "little")
    return 12 + int.from_bytes(raw[8:12], "little")


def _load_checked(path):
    """trace.load with and without mmap: TraceError or a well-formed trace array."""
    out = None
    for mmap in (True, False):
        try:
            arr = T.load(path, mmap=mmap)
        except pymemcg.TraceError:
            continue
        assert isinstance(arr, np.ndarray) and arr.dtype == T.TRACE_DTYPE and arr.ndim == 1
        out = arr
    return out


def _replay_checked(trace, **kw):
    """Replay on a small engine: TraceError with nothing applied, or a run that passes check()."""
    kernel = kw.pop("kernel", "2.6.30")
    # 2.6.31 gets a swap device that these traces cannot fill halfway: with vm_swap_full() the
    # engine's scan_swap_map can hang (an engine bug with its own xfail tests in
    # test_model_differential.py and test_determinism.py)
    eng = pymemcg.Engine(ram="512K", swap="128K" if kernel == "2.6.30" else "8M",
                         page_cluster=kw.pop("page_cluster", 3), kernel=kernel, hook=kw.pop("hook", "none"))
    eng.mkdir("pre").limit_in_bytes = "64K"
    t = eng.spawn()
    t.fault(range(4))
    before = snapshot(eng)
    try:
        eng.replay(trace, progress=False, **kw)
    except pymemcg.TraceError:
        assert_same_state(before, snapshot(eng))
        eng.check()
        return False
    eng.check()
    # the engine still works after the replay (the trace may have set tight limits: the new
    # task may be OOM-killed, which is an answer too)
    u = eng.spawn()
    u.fault(range(2))
    if u.alive:
        u.exit()
    else:
        assert u.oom_killed
    eng.check()
    return True


# ------------------------------------------------------------------ trace.load: .npy

@fuzz_settings(200)
@given(data=st.binary(max_size=300))
def test_trace_load_npy_random_bytes(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("npy") / "t.npy"
    p.write_bytes(data)
    _load_checked(p)


@fuzz_settings(200)
@given(ops=edits)
def test_trace_load_npy_mutated_data(tmp_path_factory, ops):
    """Damage after the header (the event records): TraceError (a short file) or a trace;
    a trace that loads goes on to replay, which runs it or refuses it with TraceError."""
    d = tmp_path_factory.mktemp("npy")
    raw = _npy_bytes(SAMPLE, d)
    p = d / "t.npy"
    p.write_bytes(mutate(raw, ops, lo=_npy_header_len(raw)))
    arr = _load_checked(p)
    if arr is not None:
        _replay_checked(np.array(arr))


# Found by this fuzzer: trace.load() of a .npy whose header is damaged let numpy's header
# parser errors (tokenize.TokenError, SyntaxError) escape instead of TraceError (trace.py caught
# only ValueError, OSError and EOFError).  Fixed in pymemcg/trace.py since; regression tests.
@fuzz_settings(300)
@given(ops=edits)
def test_trace_load_npy_mutated_header(tmp_path_factory, ops):
    d = tmp_path_factory.mktemp("npy")
    raw = _npy_bytes(SAMPLE, d)
    p = d / "t.npy"
    p.write_bytes(mutate(raw, ops, lo=8, hi=_npy_header_len(raw)))
    _load_checked(p)


@pytest.mark.parametrize("damage", ["unclosed", "not a dict"])
def test_trace_load_npy_damaged_header_examples(tmp_path, damage):
    """The fuzzer's findings as plain examples."""
    raw = _npy_bytes(SAMPLE, tmp_path)
    n = _npy_header_len(raw)
    head = raw[10:n]
    if damage == "unclosed":                    # the header dict is never closed: TokenError
        head = head.replace(b"}", b" ")
    else:                                       # not a Python literal: SyntaxError
        head = b",8" + head[2:]
    p = tmp_path / "bad.npy"
    p.write_bytes(raw[:10] + head + raw[n:])
    with pytest.raises(pymemcg.TraceError):
        T.load(p)


# ------------------------------------------------------------------ trace.load: .csv

def _csv_text():
    return T.to_csv_text(SAMPLE)


@fuzz_settings(200)
@given(text=st.text(max_size=300), header=st.booleans())
def test_trace_load_csv_random_text(tmp_path_factory, text, header):
    p = tmp_path_factory.mktemp("csv") / "t.csv"
    if header:
        text = ",".join(T.CSV_FIELDS) + "\n" + text
    p.write_text(text, encoding="utf-8")
    arr = _load_checked(p)
    if arr is not None:
        _replay_checked(np.array(arr))


@fuzz_settings(300)
@given(ops=st.lists(st.tuples(st.sampled_from(["set", "insert", "delete", "truncate"]),
                              st.floats(0, 1, allow_nan=False), st.text(min_size=1, max_size=6)),
                    min_size=1, max_size=4))
def test_trace_load_csv_mutated_text(tmp_path_factory, ops):
    """Mutations of a valid CSV trace (valid UTF-8): TraceError or a trace that replay runs
    or refuses with TraceError."""
    text = _csv_text()
    for kind, frac, s in ops:
        i = int(frac * max(len(text) - 1, 0))
        text = {"set": text[:i] + s + text[i + len(s):], "insert": text[:i] + s + text[i:],
                "delete": text[:i] + text[i + len(s):], "truncate": text[:i]}[kind]
    p = tmp_path_factory.mktemp("csv") / "t.csv"
    p.write_text(text, encoding="utf-8")
    arr = _load_checked(p)
    if arr is not None:
        _replay_checked(np.array(arr))


# Found by this fuzzer: trace.load() of a .csv that is not valid UTF-8 raised UnicodeDecodeError
# (the file was opened in text mode and decoded while csv read it) instead of TraceError; and
# trace.save(..., "x.csv") of an event with an unknown op wrote op 0 as "rmdir" (OPS[-1]) or
# raised IndexError.  Fixed in pymemcg/trace.py since; regression tests.
def test_trace_load_csv_not_utf8_example(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(_csv_text().encode() + b"spawn,0,9,0,0,0,\xff\n")
    with pytest.raises(pymemcg.TraceError):
        T.load(p)


@pytest.mark.parametrize("op", [0, 13, 255])
def test_trace_save_csv_unknown_op(tmp_path, op):
    tr = SAMPLE.copy()
    tr["op"][3] = op
    with pytest.raises(pymemcg.TraceError):
        T.save(tr, tmp_path / "t.csv")


@fuzz_settings(100)
@given(ops=edits)
def test_trace_load_csv_mutated_bytes(tmp_path_factory, ops):
    raw = _csv_text().encode()
    p = tmp_path_factory.mktemp("csv") / "t.csv"
    data = mutate(raw, ops)
    assume(data)
    p.write_bytes(data + b"\xff")
    _load_checked(p)


# ------------------------------------------------------------------ importers

def _samples():
    rng = np.random.default_rng(7)
    lackey = [b"==123== Lackey, an example Valgrind tool\n"]
    for i in range(20):
        kind = [b"I ", b" L", b" S", b" M"][i % 4]
        lackey.append(b"%s %08x,%d\n" % (kind, int(rng.integers(1 << 24)), [1, 2, 4, 8][i % 4]))
    return {
        "oracleGeneral": np.array([(i, i % 5, 4096, -1) for i in range(20)], ORACLE_DTYPE).tobytes(),
        "csv": b"version,time,op,size,lbn\n" + b"".join(
            b"1,%d,%s,4096,%d\n" % (i, b"w" if i % 2 else b"r", i % 7) for i in range(20)),
        "lackey": b"".join(lackey),
        "address": b"".join(b"%s 0x%x %d\n" % (b"ls"[i % 2:i % 2 + 1], int(rng.integers(1 << 30)), i % 10)
                            for i in range(20)),
        "blockids": b"".join(b"%d\n" % int(rng.integers(100)) for _ in range(20)),
    }


IMPORT_SAMPLES = _samples()


def _wrap(data, how):
    if how == "gzip":
        return gzip.compress(data)
    if how == "xz":
        return lzma.compress(data)
    if how == "gzip-truncated":
        z = gzip.compress(data)
        return z[:max(2, len(z) // 2)]
    if how == "xz-damaged":
        z = bytearray(lzma.compress(data))
        z[len(z) // 2] ^= 0xFF
        return bytes(z)
    return data


@pytest.mark.parametrize("fmt", FORMATS)
@fuzz_settings(150)
@given(data=st.one_of(st.binary(max_size=200), edits), wrap=st.sampled_from(
    ["plain", "plain", "gzip", "xz", "gzip-truncated", "xz-damaged"]), dense=st.booleans(),
    limit_events=st.one_of(st.none(), st.integers(0, 30)))
def test_load_foreign_fuzz(tmp_path_factory, fmt, data, wrap, dense, limit_events):
    raw = mutate(IMPORT_SAMPLES[fmt], data) if isinstance(data, list) else data
    p = tmp_path_factory.mktemp("imp") / "trace.bin"
    p.write_bytes(_wrap(raw, wrap))
    try:
        tr = load_foreign(str(p), fmt, dense=dense, limit_events=limit_events)
    except pymemcg.TraceError:
        return
    assert isinstance(tr, np.ndarray) and tr.dtype == T.TRACE_DTYPE and tr.ndim == 1
    assert (tr["op"] == T.OP["spawn"]).sum() == 1
    faults = tr[tr["op"] == T.OP["fault"]]
    assert len(faults) or limit_events == 0
    assert (faults["vpn"] >= 0).all() and (faults["vpn"] < T.VPN_LIMIT).all()
    if limit_events is not None:
        assert len(faults) <= limit_events or fmt == "lackey"      # a straddling access yields all its pages
    if len(tr) <= 400:
        _replay_checked(tr)


@pytest.mark.parametrize("fmt", FORMATS)
def test_load_foreign_file_object_and_bad_arguments(tmp_path, fmt):
    import io
    tr = load_foreign(io.BytesIO(IMPORT_SAMPLES[fmt]), fmt)
    assert tr.dtype == T.TRACE_DTYPE
    with pytest.raises(ValueError):
        load_foreign(io.BytesIO(IMPORT_SAMPLES[fmt]), fmt + "x")
    with pytest.raises(TypeError):
        load_foreign(io.StringIO("1\n"), fmt)
    with pytest.raises(ValueError):
        load_foreign(io.BytesIO(IMPORT_SAMPLES[fmt]), fmt, limit_events=-1)


# ------------------------------------------------------------------ control files

CONTROL_FILES = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes",
                 "memory.memsw.usage_in_bytes", "memory.max_usage_in_bytes",
                 "memory.memsw.max_usage_in_bytes", "memory.failcnt", "memory.memsw.failcnt", "memory.stat",
                 "memory.force_empty", "memory.swappiness", "memory.use_hierarchy",
                 "memory.bogus", "limit_in_bytes", "memory.limit_in_bytes ", "")
RECLAIMING = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.force_empty")

values = st.one_of(
    st.text(alphabet="0123456789kKmMgGxXabcdef-+ .\t\n\x00\u00e9\u4e2d", max_size=20),
    st.text(max_size=70),
    st.integers(-2**70, 2**70),
    st.integers(0, 1 << 24).map(str),
    st.sampled_from(["-1", "0x10", "010", "1k ", " 1k", "1K\n", "4096\x00junk", "1G", "9" * 25, "", "x" * 63,
                     "1" * 64, "0", "1", "2", "100", "101"]),
    st.sampled_from([1.5, None, b"4k", True, False, [1], {}, object()]),
)


@pytest.mark.parametrize("kernel", ["2.6.30", "2.6.31"])
@pytest.mark.parametrize("swap_account", [True, False])
@fuzz_settings(150)
@given(writes=st.lists(st.tuples(st.sampled_from(["", "a", "a/b", "c"]), st.sampled_from(CONTROL_FILES), values),
                       min_size=1, max_size=6))
def test_control_file_writes(kernel, swap_account, writes):
    eng = pymemcg.Engine(ram="1M", swap="256K", kernel=kernel, swap_account=swap_account)
    cgs = {"": eng.root, "a": eng.mkdir("a"), "a/b": eng.mkdir("a/b"), "c": eng.mkdir("c")}
    t = eng.spawn(cgs["c"])
    t.fault(range(10))
    t.zap(range(8, 10), flush=False)
    for path, name, value in writes:
        before = snapshot(eng)
        try:
            cgs[path].write(name, value)
        except pymemcg.CgroupError as e:
            assert e.errno in (2, 7, 16, 22), e          # ENOENT, E2BIG, EBUSY, EINVAL
            if not (e.errno == 16 and name in RECLAIMING):
                assert_same_state(before, snapshot(eng))
        except (ValueError, TypeError):
            assert_same_state(before, snapshot(eng))
        eng.check()
        for cg in cgs.values():                           # every file still reads
            for f in CONTROL_FILES[:9]:
                try:
                    cg.read(f)
                except pymemcg.CgroupError as e:
                    assert e.errno == 2 and not swap_account and "memsw" in f


# ------------------------------------------------------------------ replay

ops_valid = st.sampled_from(["spawn", "fault", "fault", "fault", "munmap", "fork", "exit", "mlock", "move",
                             "mkdir", "write", "reclaim", "rmdir"])


@st.composite
def event_arrays(draw):
    """Mostly valid traces: a Builder-like sequence over the tasks and cgroups that exist, then
    a few raw edits (any field, any value of its type)."""
    n = draw(st.integers(1, 40))
    evs = []
    tasks, cgroups = [], [0]
    next_task, next_cg = 0, 1
    for _ in range(n):
        op = draw(ops_valid)
        cpu = draw(st.integers(0, 3))
        if op not in ("spawn", "mkdir", "write", "reclaim", "rmdir") and not tasks:
            op = "spawn"
        task = draw(st.sampled_from(tasks)) if tasks else 0
        if op == "spawn":
            evs.append((T.OP["spawn"], cpu, 0, next_task, draw(st.sampled_from(cgroups)), 0))
            tasks.append(next_task)
            next_task += 1
        elif op == "fork":
            evs.append((T.OP["fork"], cpu, 0, task, next_task, 0))
            tasks.append(next_task)
            next_task += 1
        elif op in ("fault", "munmap", "mlock"):
            evs.append((T.OP[op], cpu, draw(st.integers(0, 1)), task, draw(st.integers(0, 40)),
                        draw(st.integers(1, 16))))
        elif op == "exit":
            evs.append((T.OP[op], cpu, 0, task, 0, 0))
            tasks.remove(task)
        elif op == "move":
            evs.append((T.OP[op], cpu, 0, task, draw(st.sampled_from(cgroups)), 0))
        elif op == "mkdir":
            name = draw(st.text(alphabet="abcxyz\u00e9._-", min_size=1, max_size=20))
            raw = name.encode()
            evs.append((T.OP["mkdir"], 0, 0, next_cg, draw(st.sampled_from(cgroups)), len(raw)))
            for w in T._name_events(name):
                evs.append(tuple(int(w[f]) for f in T.TRACE_DTYPE.names))
            cgroups.append(next_cg)
            next_cg += 1
        elif op == "write":
            evs.append((T.OP["write"], 0, draw(st.integers(1, len(T.WRITE_FILES))), draw(st.sampled_from(cgroups)),
                        0, draw(st.sampled_from([0, 1, 60, 4096, 65536, 1 << 20, (1 << 63) - 1]))))
        elif op == "reclaim":
            evs.append((T.OP["reclaim"], cpu, draw(st.integers(0, 1)), draw(st.sampled_from(cgroups)), 0,
                        draw(st.integers(1, 32))))
        elif len(cgroups) > 1:
            cg = draw(st.sampled_from(cgroups[1:]))
            evs.append((T.OP["rmdir"], 0, 0, cg, 0, 0))
            cgroups.remove(cg)
    arr = np.array(evs, T.TRACE_DTYPE)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3])) if len(arr) else 0):    # an empty trace has no field
        i = draw(st.integers(0, len(arr) - 1))
        field = draw(st.sampled_from(T.TRACE_DTYPE.names))
        info = np.iinfo(T.TRACE_DTYPE[field])
        arr[field][i] = draw(st.one_of(st.integers(info.min, info.max), st.integers(max(info.min, -3), 70)))
    return arr


@pytest.mark.parametrize("kernel,hook", [("2.6.30", "none"), ("2.6.31", "seed")])
@fuzz_settings(150)
@given(trace=event_arrays(), cpus=st.integers(1, 3), sched=st.sampled_from(["rr", "random"]),
       seed=st.integers(0, 2**64 - 1))
def test_replay_fuzz(kernel, hook, trace, cpus, sched, seed):
    _replay_checked(trace, cpus=cpus, sched=sched, seed=seed, kernel=kernel, hook=hook)


@fuzz_settings(100)
@given(trace=event_arrays())
def test_replay_fuzz_through_files(tmp_path_factory, trace):
    """What save() writes, load() reads back exactly (both forms), and replay treats alike."""
    d = tmp_path_factory.mktemp("rt")
    for ext in ("npy", "csv"):
        p = d / f"t.{ext}"
        try:
            T.save(trace, p)
        except pymemcg.TraceError:
            continue
        try:
            back = T.load(p, mmap=False)
        except pymemcg.TraceError:
            # .csv only: save() writes a mkdir whose name events are missing or damaged as
            # it finds it, and load() refuses the result (not a round trip; see the report)
            assert ext == "csv"
            continue
        ok = _replay_checked(np.array(back))
        if ext == "npy":
            np.testing.assert_array_equal(back, trace)
            assert ok == _replay_checked(trace)
