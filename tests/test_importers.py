"""Importers of foreign traces (pymemcg.importers): small slices of the real sample traces in
../shared/traces/ checked event by event against the raw bytes decoded here independently,
generated lackey output (and valgrind's own when valgrind is installed), malformed input in
plain, gzip and xz form, and that an imported slice replays."""
import csv
import functools
import gzip
import io
import lzma
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import pymemcg
from pymemcg import TraceError
from pymemcg.importers import (FORMATS, from_address, from_block_ids, from_csv, from_lackey,
                               from_oracle_general, load_foreign)
from pymemcg.trace import OP, WRITE_FILE, mkdir_names

ROOT = Path(__file__).resolve().parents[1]
TRACES = (ROOT / ".." / "shared" / "traces").resolve()
needs_traces = pytest.mark.skipif(
    not TRACES.is_dir(),
    reason=f"sample real traces not found at {TRACES} (../shared/traces from the project root)")
N = 2000          # accesses per slice of a sample trace


def faults(trace, cgroup_events=0):
    """Check the trace is one spawned task (after cgroup_events cgroup events) and return its faults."""
    assert trace.dtype == pymemcg.trace.TRACE_DTYPE
    spawn = trace[cgroup_events]
    assert spawn["op"] == OP["spawn"] and spawn["task"] == 0
    f = trace[cgroup_events + 1:]
    assert (f["op"] == OP["fault"]).all() and (f["count"] == 1).all() and (f["task"] == 0).all()
    return f


def dense(keys):
    """First-appearance renumbering, the plain way."""
    seen = {}
    return [seen.setdefault(k, len(seen)) for k in keys]


def writes(f):
    return (f["flags"] & 1).astype(bool).tolist()


def read_lines(path, n):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return [next(fh) for _ in range(n)]


# ----------------------------------------------------------------- the sample traces


@needs_traces
def test_oracle_general_slice():
    path = TRACES / "cloudPhysicsIO.oracleGeneral.bin"
    with open(path, "rb") as fh:
        raw = fh.read(24 * N)
    recs = [struct.unpack_from("<IQIq", raw, 24 * i) for i in range(N)]
    ids = [r[1] for r in recs]
    f = faults(from_oracle_general(path, limit_events=N))
    assert f["vpn"].tolist() == dense(ids)
    assert not f["flags"].any()
    f = faults(from_oracle_general(path, limit_events=N, dense=False))
    assert f["vpn"].tolist() == ids
    assert ids[:3] == [42932745, 42932746, 42932747]


@needs_traces
def test_csv_slice_and_column_order(tmp_path):
    path = TRACES / "cloudPhysicsIO.csv"
    with open(path, newline="") as fh:
        rows = [r for _, r in zip(range(N), csv.DictReader(fh))]
    ids = [int(r["lbn"]) for r in rows]
    f = faults(from_csv(path, limit_events=N))
    assert f["vpn"].tolist() == dense(ids)
    # the sample's op column holds SCSI opcodes: 2a WRITE(10), 28 READ(10)
    assert {r["op"] for r in rows} <= {"2a", "28"}
    assert writes(f) == [r["op"] == "2a" for r in rows]
    # the same rows with the columns in another order, and an upper-case write op
    other = tmp_path / "reordered.csv"
    with open(other, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["lbn", "size", "op", "time", "version"])
        for r in rows:
            w.writerow([r["lbn"], r["size"], r["op"].upper(), r["time"], r["version"]])
    g = faults(from_csv(other))
    assert g.tolist() == f.tolist()
    # CRLF line ends and quoted cells take the line-by-line path, with the same result
    text = other.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    text = b"\r\n".join(text[:1] + [b'"%s",%s' % tuple(x.split(b",", 1)) for x in text[1:] if x])
    assert faults(from_csv(io.BytesIO(text))).tolist() == f.tolist()
    # the oracleGeneral file is the same trace
    assert f["vpn"].tolist() == faults(from_oracle_general(TRACES / "cloudPhysicsIO.oracleGeneral.bin",
                                                           limit_events=N))["vpn"].tolist()


@needs_traces
@pytest.mark.parametrize("name", ["address_gcc.trace.gz", "address_mcf.trace.gz"])
def test_address_slice(name):
    path = TRACES / name
    lines = [ln.split() for ln in read_lines(path, N)]
    assert all(len(x) == 3 and x[0] in (b"l", b"s") and x[1][:2] == b"0x" for x in lines)
    f = faults(from_address(path, limit_events=N))
    assert f["vpn"].tolist() == [int(x[1], 16) >> 12 for x in lines]
    assert writes(f) == [x[0] == b"s" for x in lines]
    g = faults(load_foreign(path, "address", limit_events=N, dense=True))
    assert g["vpn"].tolist() == dense(f["vpn"].tolist())


@needs_traces
@pytest.mark.parametrize("name", ["lirs_multi1.trace.gz", "lirs_sprite.trace.gz"])
def test_block_ids_text_slice(name):
    path = TRACES / name
    ids = [int(x) for x in read_lines(path, N)]
    f = faults(from_block_ids(path, limit_events=N))
    assert f["vpn"].tolist() == dense(ids)
    assert not f["flags"].any()
    assert faults(from_block_ids(path, limit_events=N, dense=False, binary=False))["vpn"].tolist() == ids


@needs_traces
def test_block_ids_binary_slice():
    path = TRACES / "cloud_physics_w106.trace.xz"
    with lzma.open(path) as fh:
        ids = list(struct.unpack(f"<{N}i", fh.read(4 * N)))
    f = faults(from_block_ids(path, limit_events=N))            # auto-detected as binary
    assert f["vpn"].tolist() == dense(ids)
    assert faults(from_block_ids(path, limit_events=N, binary=True, dense=False))["vpn"].tolist() == ids
    assert ids[:2] == [904906, 896511]                          # little-endian; big-endian would be huge


SAMPLES = [("oracleGeneral", "cloudPhysicsIO.oracleGeneral.bin"), ("csv", "cloudPhysicsIO.csv"),
           ("address", "address_gcc.trace.gz"), ("address", "address_mcf.trace.gz"),
           ("blockids", "lirs_multi1.trace.gz"), ("blockids", "lirs_sprite.trace.gz"),
           ("blockids", "cloud_physics_w106.trace.xz")]


@needs_traces
@pytest.mark.parametrize("fmt,name", SAMPLES)
def test_sample_slice_replays(fmt, name):
    trace = load_foreign(TRACES / name, fmt, limit_events=N)
    f = faults(trace)
    assert len(f) == N
    res = pymemcg.Engine(ram="8M", swap="16M").replay(trace, cpus=1)
    assert res.counters["pgfault"] == int(f["count"].sum()) == N


@needs_traces
def test_slice_in_a_limited_cgroup_replays():
    trace = load_foreign(TRACES / "lirs_sprite.trace.gz", "blockids", limit_events=N, limit="1M", cpu=2)
    ops = trace["op"][:4].tolist()
    assert ops == [OP["mkdir"], OP["name"], OP["write"], OP["spawn"]]
    assert mkdir_names(trace) == {0: "trace"}
    assert trace[2]["flags"] == WRITE_FILE["memory.limit_in_bytes"] and trace[2]["count"] == 1 << 20
    assert trace[3]["vpn"] == trace[0]["task"]                  # spawned in the new cgroup
    f = faults(trace, 3)
    assert (f["cpu"] == 2).all()
    eng = pymemcg.Engine(ram="8M", swap="16M")
    res = eng.replay(trace, cpus=1)
    assert res.counters["pgfault"] == len(f)
    assert eng.cgroup("trace").limit_in_bytes == 1 << 20


# ----------------------------------------------------------------- lackey

LACKEY = b"""\
==4242== Lackey, an example Valgrind tool
==4242== Command: ./a.out
==4242==
I  04016f0,3
 S 04222cf8,8
I  04016f3,5
 L 04222cf0,8
 M 0421fec8,4
I  0401ffe,4
 L 1ffefffff8,16
hello from the program
 S 1ffeffe000,1
==4242== Exit code:       0
"""
# the fetch at 0401ffe and the load at 1ffefffff8 straddle a page boundary: two pages each
LACKEY_PAGES = [0x401, 0x4222, 0x401, 0x4222, 0x421F, 0x401, 0x402, 0x1FFEFFF, 0x1FFF000, 0x1FFEFFE]
LACKEY_WRITES = [False, True, False, False, True, False, False, False, False, True]


def test_lackey_generated(tmp_path):
    path = tmp_path / "lackey.out"
    path.write_bytes(LACKEY)
    f = faults(from_lackey(path, dense=False))
    assert f["vpn"].tolist() == LACKEY_PAGES
    assert writes(f) == LACKEY_WRITES
    f = faults(from_lackey(path))
    assert f["vpn"].tolist() == dense(LACKEY_PAGES)
    # without instruction fetches
    f = faults(from_lackey(path, instructions=False, dense=False))
    keep = [0, 1, 0, 1, 1, 0, 0, 1, 1, 1]
    assert f["vpn"].tolist() == [p for p, k in zip(LACKEY_PAGES, keep) if k]
    # limit_events counts accesses: the 6th is the straddling fetch, two pages
    assert faults(from_lackey(path, dense=False, limit_events=6))["vpn"].tolist() == LACKEY_PAGES[:7]
    # CRLF line ends and a file object give the same
    g = faults(from_lackey(io.BytesIO(LACKEY.replace(b"\n", b"\r\n")), dense=False))
    assert g.tolist() == faults(from_lackey(path, dense=False)).tolist()


def _parse_lackey(text, limit):
    """The plain reading of lackey lines, for comparison."""
    pages, wr = [], []
    for line in text.splitlines():
        m = re.fullmatch(r"(I | [LSM]) ([0-9a-f]+),(\d+)", line)
        if not m:
            continue
        if limit == 0:
            break
        limit -= 1
        a, n = int(m.group(2), 16), int(m.group(3))
        for p in range(a >> 12, ((a + max(n, 1) - 1) >> 12) + 1):
            pages.append(p)
            wr.append(m.group(1) in (" S", " M"))
    return pages, wr


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_lackey_real_valgrind_output(tmp_path):
    log = tmp_path / "lackey.log"
    try:
        subprocess.run(["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", "/bin/true"],
                       timeout=60, check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError) as e:
        pytest.skip(f"valgrind could not run here: {e}")
    text = log.read_text()
    assert text.startswith("==")
    n = 5000
    pages, wr = _parse_lackey(text, n)
    trace = from_lackey(log, dense=False, limit_events=n)
    f = faults(trace)
    assert f["vpn"].tolist() == pages and writes(f) == wr
    res = pymemcg.Engine(ram="8M", swap="16M").replay(from_lackey(log, limit_events=n), cpus=1)
    assert res.counters["pgfault"] == len(pages)


# ----------------------------------------------------------------- options


def test_merge_runs():
    src = b"l 0x1000 1\ns 0x1008 0\nl 0x1ff0 3\nl 0x2000 1\nl 0x1000 1\n"
    f = faults(from_address(io.BytesIO(src)))
    assert f["vpn"].tolist() == [1, 1, 1, 2, 1] and writes(f) == [False, True, False, False, False]
    f = faults(from_address(io.BytesIO(src), merge_runs=True))
    assert f["vpn"].tolist() == [1, 2, 1] and writes(f) == [True, False, False]
    f = faults(from_block_ids(io.BytesIO(b"50\n50\n70\n50\n"), merge_runs=True))
    assert f["vpn"].tolist() == [0, 1, 0]


def test_address_field_variants():
    # no count, Caffeine's hit/miss penalty columns, blank lines, tabs and CRLF
    src = b"l 0x10 3\r\n\ns\t0x2000\r\nl 0x3000 0 200 1200\n"
    f = faults(from_address(io.BytesIO(src)))
    assert f["vpn"].tolist() == [0, 2, 3] and writes(f) == [False, True, False]


def test_block_ids_text_with_byte_order_mark():
    f = faults(from_block_ids(io.BytesIO(b"\xef\xbb\xbf50\n70\n"), dense=False))
    assert f["vpn"].tolist() == [50, 70]


def test_limit_zero_and_cgroup_path():
    trace = from_block_ids(io.BytesIO(b"1\n2\n"), limit_events=0, cgroup="a/b")
    assert trace["op"].tolist() == [OP["mkdir"], OP["name"], OP["mkdir"], OP["name"], OP["spawn"]]
    assert sorted(mkdir_names(trace).values()) == ["a", "b"]


def test_compressed_inputs_detected_by_magic(tmp_path):
    text = b"".join(b"%d\n" % (i % 7) for i in range(3000))
    plain = faults(from_block_ids(io.BytesIO(text)))
    for name, data in (("ids.gz.txt", gzip.compress(text)), ("ids.txt", lzma.compress(text)),
                       ("ids.xz", text)):
        p = tmp_path / name
        p.write_bytes(data)
        assert faults(from_block_ids(p)).tolist() == plain.tolist()


def test_chunked_reading_keeps_line_numbers(tmp_path):
    lines = [b"%d" % (i * 7919 % 100003) for i in range(120000)]   # 700 KB: several chunks
    p = tmp_path / "ids.gz"
    p.write_bytes(gzip.compress(b"\n".join(lines)))              # no final newline
    f = faults(from_block_ids(p, dense=False))
    assert f["vpn"].tolist() == [int(x) for x in lines]
    lines[100000] = b"25x"
    p.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    with pytest.raises(TraceError, match=r":100001: id b?'25x' is not an integer"):
        from_block_ids(p)


def test_bad_arguments():
    with pytest.raises(ValueError, match="format"):
        load_foreign(io.BytesIO(b"1\n"), "vmstat")
    with pytest.raises(ValueError, match="cpu"):
        from_block_ids(io.BytesIO(b"1\n"), cpu=256)
    with pytest.raises(ValueError, match="limit_events"):
        from_block_ids(io.BytesIO(b"1\n"), limit_events=-1)
    assert set(FORMATS) == {"oracleGeneral", "csv", "lackey", "address", "blockids"}


# ----------------------------------------------------------------- malformed input

ORACLE3 = b"".join(struct.pack("<IQIq", i, 10 + i, 512, -1) for i in range(3))
HEADER = b"version,time,op,size,lbn\n"
MALFORMED = [
    ("lackey", b"==1== hi\nI  0401zz,3\n", {}, r":2: lackey access"),
    ("lackey", b"I  0401,3\n S 0422\n", {}, r":2: lackey access"),
    ("lackey", b"I  0401,3\n S 0422,eight\n", {}, r":2: lackey access"),
    ("lackey", b"I  0401,3\n S 0422,99999999\n", {}, r":2: access size"),
    ("lackey", b"==1== nothing traced\n", {}, r"no accesses"),
    ("address", b"l 0x10 1\nl 0xZZ 1\n", {}, r":2: address"),
    ("address", b"l 0x10 1\ns 0x20 1 4\n", {}, r":2: 4 fields"),
    ("address", b"l 0x10 1\nx 0x20 1\n", {}, r":2: access type"),
    ("address", b"l 0x10 1\nl 0x20 -1\n", {}, r":2: instruction count"),
    ("address", b"l 0x10 1\nl 0xfffffffffffff000 1\n", {}, r":2: page number \d+ is outside"),
    ("blockids", b"1\n2\nabc\n", {}, r":3: id b?'abc' is not an integer"),
    ("blockids", b"1\n2 3\n", {}, r":2: 2 fields"),
    ("blockids", b"1\n99999999999999999999\n", {}, r":2: id \d+ does not fit"),
    ("blockids", b"1\n-4\n", {"dense": False}, r":2: page number -4 is outside"),
    ("blockids", b"\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00", {}, r"byte offset 8"),
    ("blockids", b"\x01\x00\x00\x00\xff\xff\xff\xff", {"dense": False}, r"byte offset 4: page number -1"),
    ("blockids", b"", {}, r"no accesses"),
    ("oracleGeneral", ORACLE3 + b"\x00" * 5, {}, r"truncated record at byte offset 72"),
    ("oracleGeneral", ORACLE3[:24] + struct.pack("<IQIq", 0, 1 << 36, 1, -1), {"dense": False},
     r"byte offset 24: page number 68719476736 is outside"),
    ("csv", HEADER + b"1,5,2a,512,42\n1,5,2a,512\n", {}, r":3: 4 fields"),
    ("csv", HEADER + b"1,5,2a,512,42\n1,5,2a,512,4x2\n", {}, r":3: id '4x2' is not an integer"),
    ("csv", b"version,time,op,size\n1,5,2a,512\n", {}, r":1: no id column"),
    ("csv", b"1,5,2a,512,42\n", {}, r":1: the first line must be a header"),
    ("csv", b"version,time,op,size,lbn,lbn\n1,5,2a,512,42,3\n", {}, r":1: repeated column"),
]


@pytest.mark.parametrize("compress", ["plain", "gzip", "xz"])
@pytest.mark.parametrize("fmt,data,kw,match", MALFORMED, ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed(tmp_path, compress, fmt, data, kw, match):
    data = {"plain": lambda d: d, "gzip": gzip.compress, "xz": lzma.compress}[compress](data)
    p = tmp_path / "bad.trace"
    p.write_bytes(data)
    with pytest.raises(TraceError, match=match):
        load_foreign(p, fmt, **kw)


@functools.lru_cache(None)
def _compressed():
    text = b"".join(b"l 0x%x 1\n" % (i * 64) for i in range(20000))
    return gzip.compress(text), lzma.compress(text, preset=0)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mangle", ["truncated gzip", "corrupt gzip", "truncated xz", "zstd"])
def test_broken_compression(tmp_path, fmt, mangle):
    data = {"truncated gzip": lambda: _compressed()[0][:2000],
            "corrupt gzip": lambda: _compressed()[0][:10] + b"\x00garbage" * 50,
            "truncated xz": lambda: _compressed()[1][:2000],
            "zstd": lambda: b"\x28\xb5\x2f\xfd" + b"\x00" * 20}[mangle]()
    p = tmp_path / "broken"
    p.write_bytes(data)
    # lackey skips every line of this text and oracleGeneral reads it as records, so both reach the
    # damage; the others may first refuse the text itself (a TraceError naming its line)
    match = "corrupt or truncated|zstd" if fmt in ("lackey", "oracleGeneral") else None
    with pytest.raises(TraceError, match=match):
        load_foreign(p, fmt)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_foreign(tmp_path / "nope", "blockids")
    with pytest.raises(TypeError):
        load_foreign(12, "blockids")
