"""Importers: other people's traces as pymemcg traces of one task.

Each importer reads a foreign trace (a path, or a binary file object; plain, gzip
or xz, detected by magic bytes) in streaming chunks and returns a trace array
(TRACE_DTYPE) that is self-contained: optionally a ``mkdir`` (with a
``memory.limit_in_bytes`` write), then the ``spawn`` of task 0 in the cgroup,
then one ``fault`` event of count 1 per access, in order.  A fault's write flag
comes from the source where it has one.

=================  ==========================================================  =========
format             what an access is                                           write?
=================  ==========================================================  =========
``oracleGeneral``  a 24-byte record of libCacheSim's binary format:            never
                   ``<u4`` time, ``<u8`` object id, ``<u4`` size,
                   ``<i8`` next access vtime
``csv``            a row of a libCacheSim csv block trace with a header          op column
                   naming the columns (``version,time,op,size,lbn``); the id
                   column is ``lbn`` (or ``obj_id``, ``id``, ...; ``id_column=``)
``lackey``         a line of ``valgrind --tool=lackey --trace-mem=yes``:        S and M
                   ``I  ADDR,SIZE`` / `` L ...`` / `` S ...`` / `` M ...``;
                   every other line (``==pid==`` banners, program output) is
                   skipped
``address``        a line ``l|s 0xADDRESS N`` (the UCSD CSE240A cache          s
                   simulator traces that Caffeine ships as address_*.trace)
``blockids``       one integer id per text line, or little-endian int32s       never
=================  ==========================================================  =========

Page numbers: object and block ids are remapped by default (``dense=True``) to
0..n-1 in order of first appearance; with ``dense=False`` the id itself is the
page and must lie in [0, 2**36).  Addresses become ``address >> 12`` (lackey
remaps those pages densely by default too; address traces do not).  A lackey
access that straddles a page boundary touches every page it covers, one fault
each, in address order.

The third column of an address trace is *not* a repetition count: it is the
number of instructions executed since the previous memory access (the UCSD
project's definition, also in Caffeine's AddressPenaltiesTraceReader); it is
checked to be a non-negative integer and otherwise ignored.  Lines with two
fields (no count) or five (Caffeine's hit/miss penalty variant) are accepted too.

In the csv op column, ``w``, ``write`` (any case) and the SCSI write opcodes
``0a``, ``2a``, ``aa``, ``8a`` (hex, as CloudPhysics records them; the sample
cloudPhysicsIO.csv holds ``2a`` WRITE(10) and ``28`` READ(10)) are writes;
anything else is a read.

Common keyword arguments: ``limit_events`` (stop after that many accesses;
a straddling lackey access still yields all its pages), ``cpu`` (the CPU the
task runs on), ``cgroup`` (the cgroup path to spawn in, default the root;
made by the trace unless it is the root), ``limit`` (bytes or "64M": the
cgroup's memory limit; with the default cgroup it makes a cgroup "trace"),
``dense`` and ``merge_runs`` (merge consecutive accesses to one page into one
fault, a write if any of them wrote).

Malformed input raises TraceError naming the line (text formats; lines of the
decompressed text) or byte offset (binary formats; offsets in the decompressed
data).  With ``limit_events`` only the part that is read is checked.
"""
import csv
import gzip
import lzma
import os
import re
import zlib

import numpy as np

from .errors import TraceError
from .trace import FLAG_WRITE, OP, VPN_LIMIT, Builder, empty

FORMATS = ("oracleGeneral", "csv", "lackey", "address", "blockids")
PAGE_SHIFT = 12

_GZIP_MAGIC = b"\x1f\x8b"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

ORACLE_DTYPE = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("obj_size", "<u4"), ("next_access_vtime", "<i8")])
assert ORACLE_DTYPE.itemsize == 24

_FIRST_CHUNK = 1 << 16          # bytes; chunks double up to _MAX_CHUNK, so small slices read little
_MAX_CHUNK = 1 << 22
_MAX_ACCESS_SIZE = 1 << 20      # a lackey access larger than this is not something valgrind writes

# hex digit values; 255 = not a hex digit
_HEX = np.full(256, 255, np.uint8)
_HEX[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)

_CSV_ID_COLUMNS = ("lbn", "obj_id", "obj-id", "objid", "id", "key", "block", "lba")
_SCSI_WRITES = {0x0A, 0x2A, 0xAA, 0x8A}


# --- input streams ---------------------------------------------------------------------

class _Prefixed:
    """A file object with some already-read bytes put back in front."""

    def __init__(self, prefix, f):
        self._prefix, self._f = prefix, f

    def readable(self):
        return True

    def read(self, n=-1):
        if self._prefix:
            if n is None or n < 0:
                data, self._prefix = self._prefix + self._f.read(), b""
                return data
            data, self._prefix = self._prefix[:n], self._prefix[n:]
            if len(data) < n:
                data += self._f.read(n - len(data))
            return data
        return self._f.read(n)

    def close(self):
        pass


class _Source:
    """A decompressed byte stream with a name for messages; read errors become TraceError."""

    def __init__(self, src):
        self._own = None
        if isinstance(src, (str, bytes, os.PathLike)):
            self.name = os.fsdecode(src)
            raw = self._own = open(src, "rb")
        elif hasattr(src, "read"):
            self.name = str(getattr(src, "name", "<stream>"))
            raw = src
        else:
            raise TypeError(f"a trace source is a path or a binary file object, not {type(src).__name__}")
        magic = raw.read(6)
        if not isinstance(magic, bytes):
            raise TypeError(f"{self.name}: open the file in binary mode")
        raw = _Prefixed(magic, raw)
        self.compression = None
        if magic.startswith(_GZIP_MAGIC):
            self.compression = "gzip"
            self._f = gzip.GzipFile(fileobj=raw, mode="rb")
        elif magic.startswith(_XZ_MAGIC):
            self.compression = "xz"
            self._f = lzma.LZMAFile(raw)
        elif magic.startswith(_ZSTD_MAGIC):
            self.close()
            raise TraceError(f"{self.name}: zstd-compressed; decompress it first (zstd -d)")
        else:
            self._f = raw
        self.pos = 0          # bytes of decompressed data read so far

    def read(self, n):
        """Up to n bytes; fewer only at the end of the data."""
        parts, want = [], n
        while want > 0:
            try:
                part = self._f.read(want)
            except (EOFError, OSError, lzma.LZMAError, zlib.error) as e:
                kind = f"{self.compression} " if self.compression else ""
                raise TraceError(f"{self.name}: corrupt or truncated {kind}data after "
                                 f"{self.pos + n - want} decompressed bytes ({e})") from None
            if not part:
                break
            parts.append(part)
            want -= len(part)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def close(self):
        if self._own is not None:
            self._own.close()
            self._own = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _chunk_sizes(first=_FIRST_CHUNK, biggest=_MAX_CHUNK):
    size = first
    while True:
        yield size
        size = min(size * 2, biggest)


def _text_chunks(src, data=b"", lineno=1):
    """(first line number, bytes of whole lines) pieces of a text stream; the last piece
    may lack its final newline.  `data` is text already read from the front, starting
    at line `lineno`."""
    for size in _chunk_sizes():
        more = src.read(size)
        data += more
        if not more:
            if data:
                yield lineno, data
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > (1 << 26):
                raise TraceError(f"{src.name}:{lineno}: a line longer than 64 MiB; is this a text trace?")
            continue
        piece, data = data[:cut], data[cut:]
        yield lineno, piece
        lineno += piece.count(b"\n")


def _records(src, dtype, data=b""):
    """(byte offset, array) pieces of a binary stream of fixed-size records."""
    size = dtype.itemsize
    for nbytes in _chunk_sizes(size * 4096, size * (1 << 18)):
        more = src.read(max(nbytes - len(data), 0))
        data += more
        if len(data) < nbytes:        # end of the data
            whole = len(data) - len(data) % size
            if whole:
                yield src.pos - len(data), np.frombuffer(data[:whole], dtype)
            if len(data) != whole:
                off = src.pos - len(data) + whole
                err = TraceError(f"{src.name}: truncated record at byte offset {off}: {len(data) - whole} "
                                 f"bytes of a {size}-byte record (the data is {src.pos} bytes, "
                                 f"not a multiple of {size})")
                err.offset = off
                raise err
            return
        yield src.pos - len(data), np.frombuffer(data, dtype)
        data = b""


def _line_error(src, lineno, msg):
    err = TraceError(f"{src.name}:{lineno}: {msg}")
    err.line = lineno
    return err


# --- per-format parsing of text chunks ---------------------------------------------------
#
# A text format has a fast, vectorized parser for a chunk that returns None when anything in
# the chunk is irregular, and a line parser (the reference) that the slow path runs line by
# line over such a chunk: it skips what the format skips and raises TraceError for the rest.
# Both give, per access: key (uint64 page or int64 id), span (pages, lackey only) and write.

def _hex_columns(u8, start, stop):
    """Values of the hex digits in columns [start, stop[row]) of a (rows, width) uint8 array."""
    v = np.zeros(len(u8), np.uint64)
    for j in range(start, u8.shape[1]):
        m = j < stop
        if not m.any():
            break
        v = np.where(m, (v << np.uint64(4)) | _HEX[u8[:, j]].astype(np.uint64), v)
    return v


def _dec_columns(u8, start):
    """Values of the decimal digits from column start[row] to the NUL padding."""
    v = np.zeros(len(u8), np.uint64)
    for j in range(int(start.min()), u8.shape[1]):
        c = u8[:, j]
        m = (j >= start) & (c != 0)
        v = np.where(m, v * np.uint64(10) + (c.astype(np.uint64) - np.uint64(48)), v)
    return v


def _matrix(matches):
    """Regex matches (bytes) as a (rows, width) uint8 array."""
    a = np.array(matches)
    return a.view(np.uint8).reshape(len(a), a.dtype.itemsize)


def _starts(chunk, prefixes):
    """How many lines of chunk begin with one of prefixes."""
    return sum(chunk.count(b"\n" + p) + chunk.startswith(p) for p in prefixes)


def _nlines(chunk):
    return chunk.count(b"\n") + (not chunk.endswith(b"\n"))


class _Lackey:
    name = "lackey"
    _PREFIXES = (b"I  ", b" L ", b" S ", b" M ")
    _ACCESS = re.compile(rb"^(?:I | [LSM]) [0-9a-fA-F]{1,16},[0-9]{1,7}(?=\r?$)", re.M)
    _LINE = re.compile(rb"\s*([0-9a-fA-F]+)\s*,\s*([0-9]+)\s*")

    def __init__(self, instructions):
        self.instructions = instructions

    def fast(self, chunk):
        matches = self._ACCESS.findall(chunk)
        if len(matches) != _starts(chunk, self._PREFIXES):
            return None
        if not matches:
            return _no_access()
        u8 = _matrix(matches)
        kind = np.where(u8[:, 0] == ord("I"), u8[:, 0], u8[:, 1])
        comma = np.argmax(u8 == ord(","), axis=1)
        addr = _hex_columns(u8, 3, comma)
        size = _dec_columns(u8, comma + 1)
        if (size > _MAX_ACCESS_SIZE).any():
            return None
        if not self.instructions:
            keep = kind != ord("I")
            kind, addr, size = kind[keep], addr[keep], size[keep]
        return self._pages(addr, size, (kind == ord("S")) | (kind == ord("M")))

    @staticmethod
    def _pages(addr, size, write):
        last = addr + np.maximum(size, np.uint64(1)) - np.uint64(1)
        last = np.where(last < addr, np.uint64(2**64 - 1), last)          # wrapped past 2**64
        first = addr >> np.uint64(PAGE_SHIFT)
        span = ((last >> np.uint64(PAGE_SHIFT)) - first + np.uint64(1)).astype(np.int64)
        return first, span, write.astype(np.uint8)

    def line(self, line, lineno):
        kind = line[:3]
        if kind not in self._PREFIXES:
            return None                     # not an access: banners, program output, blank lines
        m = self._LINE.fullmatch(line, 3)
        if not m:
            raise TraceError(f"lackey access {line[:80]!r} is not 'ADDRESS,SIZE' (hex address, decimal size)")
        addr, size = int(m.group(1), 16), int(m.group(2))
        if addr >= 2**64:
            raise TraceError(f"address {m.group(1).decode()} is wider than 64 bits")
        if size > _MAX_ACCESS_SIZE:
            raise TraceError(f"access size {size} is larger than any valgrind writes ({_MAX_ACCESS_SIZE})")
        if kind == b"I  " and not self.instructions:
            return None
        last = min(addr + max(size, 1) - 1, 2**64 - 1)
        first = addr >> PAGE_SHIFT
        return first, (last >> PAGE_SHIFT) - first + 1, kind in (b" S ", b" M ")


class _Address:
    name = "address"
    _ACCESS = re.compile(rb"^[ls] 0x[0-9a-fA-F]{1,16} [0-9]{1,18}(?=\r?$)", re.M)

    def fast(self, chunk):
        if b"\n\n" in chunk or chunk.startswith(b"\n"):
            return None
        matches = self._ACCESS.findall(chunk)
        if len(matches) != _nlines(chunk):
            return None
        if not matches:
            return _no_access()
        u8 = _matrix(matches)
        space = 4 + np.argmax(u8[:, 4:] == ord(" "), axis=1)
        addr = _hex_columns(u8, 4, space)
        return addr >> np.uint64(PAGE_SHIFT), None, (u8[:, 0] == ord("s")).astype(np.uint8)

    def line(self, line, lineno):
        fields = line.split()
        if not fields:
            return None
        if len(fields) not in (2, 3, 5):
            raise TraceError(f"{len(fields)} fields, expected 'l|s 0xADDRESS N'")
        kind, addr = fields[0], fields[1]
        if kind not in (b"l", b"s"):
            raise TraceError(f"access type {kind[:20]!r} is not l (load) or s (store)")
        digits = addr[2:] if addr[:2] in (b"0x", b"0X") else addr
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", digits):
            raise TraceError(f"address {addr[:40]!r} is not a 64-bit hex number")
        if len(fields) > 2 and not fields[2].isdigit():
            raise TraceError(f"instruction count {fields[2][:20]!r} is not a non-negative integer")
        for f in fields[3:]:
            try:
                float(f)
            except ValueError:
                raise TraceError(f"penalty {f[:20]!r} is not a number") from None
        return int(digits, 16) >> PAGE_SHIFT, 1, kind == b"s"


class _BlockText:
    name = "blockids"
    _CHECK = re.compile(rb"(?:-?[0-9]{1,18}\n)*(?:-?[0-9]{1,18})?")

    def fast(self, chunk):
        if not self._CHECK.fullmatch(chunk):
            return None
        ids = np.array(chunk.split()).astype(np.int64) if chunk else np.zeros(0, np.int64)
        return ids, None, None

    def line(self, line, lineno):
        fields = line.split()
        if not fields:
            return None
        if len(fields) != 1:
            raise TraceError(f"{len(fields)} fields, expected one integer id per line")
        try:
            v = int(fields[0])
        except ValueError:
            raise TraceError(f"id {fields[0][:40]!r} is not an integer") from None
        if not -2**63 <= v < 2**63:
            raise TraceError(f"id {v} does not fit in 64 bits")
        return v, 1, False


class _Csv:
    name = "csv"

    def __init__(self, header, id_column, src):
        try:
            names = [h.strip().lower() for h in next(csv.reader([header.decode("utf-8", "replace")]), [])]
        except csv.Error as e:
            raise _line_error(src, 1, f"the header is not a csv row ({e})") from None
        if not any(names) or any(n.lstrip("-").isdigit() for n in names):
            raise _line_error(src, 1, f"the first line must be a header naming the columns "
                                      f"(libCacheSim: version,time,op,size,lbn), not {header[:80]!r}")
        if len(set(names)) != len(names):
            raise _line_error(src, 1, f"repeated column names in {names}")
        want = (id_column.lower(),) if id_column else _CSV_ID_COLUMNS
        found = [n for n in want if n in names]
        if not found:
            raise _line_error(src, 1, f"no id column ({' or '.join(want)}) in the header {names}")
        self.ncol = len(names)
        self.idcol = names.index(found[0])
        self.opcol = names.index("op") if "op" in names else None

    @staticmethod
    def is_write(op):
        op = op.strip().lower()
        if op in ("w", "write", "wr"):
            return True
        digits = op[2:] if op.startswith("0x") else op
        return (len(digits) == 2 and all(c in "0123456789abcdef" for c in digits)
                and int(digits, 16) in _SCSI_WRITES)

    def fast(self, chunk):
        if b'"' in chunk or b"\r" in chunk or b"\n\n" in chunk or chunk.startswith(b"\n"):
            return None
        body = chunk[:-1] if chunk.endswith(b"\n") else chunk
        if not body:
            return _no_access()
        u8 = np.frombuffer(body, np.uint8)
        row_ends = np.r_[np.flatnonzero(u8 == ord("\n")), len(u8) - 1]
        commas = np.diff(np.r_[0, np.cumsum(u8 == ord(","))[row_ends]])
        if (commas != self.ncol - 1).any():
            return None
        rows = len(row_ends)
        flat = body.replace(b"\n", b",").split(b",")
        if max(map(len, flat)) > 40:
            return None
        cells = np.array(flat).reshape(rows, self.ncol)
        try:
            ids = cells[:, self.idcol].astype(np.int64)
        except (ValueError, OverflowError):
            return None
        write = None
        if self.opcol is not None:
            ops, inv = np.unique(cells[:, self.opcol], return_inverse=True)
            write = np.array([self.is_write(o.decode("utf-8", "replace")) for o in ops], np.uint8)[inv]
        return ids, None, write

    def line(self, line, lineno):
        if not line.strip():
            return None
        try:
            row = next(csv.reader([line.decode("utf-8", "replace")]), [])
        except csv.Error as e:
            raise TraceError(f"not a csv row ({e})") from None
        if len(row) != self.ncol:
            raise TraceError(f"{len(row)} fields, expected {self.ncol} as in the header")
        cell = row[self.idcol].strip()
        try:
            v = int(cell)
        except ValueError:
            raise TraceError(f"id {cell[:40]!r} is not an integer") from None
        if not -2**63 <= v < 2**63:
            raise TraceError(f"id {v} does not fit in 64 bits")
        return v, 1, self.opcol is not None and self.is_write(row[self.opcol])


def _no_access():
    return np.zeros(0, np.int64), None, None


def _slow(parser, src, chunk, lineno0):
    """Parse a chunk line by line with the reference parser; also gives each access's line."""
    keys, spans, writes, lines = [], [], [], []
    for i, line in enumerate(chunk.split(b"\n")):
        lineno = lineno0 + i
        if line.endswith(b"\r"):
            line = line[:-1]
        try:
            r = parser.line(line, lineno)
        except TraceError as e:
            raise _line_error(src, lineno, str(e)) from None
        if r is None:
            continue
        key, span, write = r
        keys.append(key)
        spans.append(span)
        writes.append(write)
        lines.append(lineno)
    key_dtype = np.int64 if isinstance(parser, (_BlockText, _Csv)) else np.uint64
    return (np.array(keys, key_dtype), np.array(spans, np.int64), np.array(writes, np.uint8),
            np.array(lines, np.int64))


# --- assembling the trace ----------------------------------------------------------------

def _check_limit_events(limit_events):
    if limit_events is None:
        return None
    if isinstance(limit_events, bool) or not isinstance(limit_events, (int, np.integer)) or limit_events < 0:
        raise ValueError(f"limit_events must be None or a non-negative int, got {limit_events!r}")
    return int(limit_events)


class _Accumulator:
    """Collects per-access keys, spans and write flags, up to limit_events accesses."""

    def __init__(self, limit_events, dense, src, format):
        self.limit = limit_events
        self.dense = dense
        self.src = src
        self.format = format
        self.n = 0
        self.keys, self.spans, self.writes = [], [], []

    @property
    def full(self):
        return self.limit is not None and self.n >= self.limit

    def add(self, keys, spans=None, writes=None, where=None):
        """Add a piece; `where(i)` names access i of the piece for a range error."""
        if self.limit is not None:
            room = self.limit - self.n
            keys = keys[:room]
            spans = None if spans is None else spans[:room]
            writes = None if writes is None else writes[:room]
        if not self.dense and len(keys):
            if spans is not None:
                bad = np.flatnonzero(keys.astype(np.uint64) + (spans - 1).astype(np.uint64) >= VPN_LIMIT)
            elif keys.dtype == np.uint64:
                bad = np.flatnonzero(keys >= VPN_LIMIT)
            else:
                bad = np.flatnonzero((keys < 0) | (keys >= VPN_LIMIT))
            if len(bad):
                i = int(bad[0])
                raise TraceError(f"{self.src.name}{where(i)}: page number {int(keys[i])} is outside 0..2**36-1; "
                                 f"use dense=True to renumber ids")
        n = len(keys)
        self.keys.append(keys)
        self.spans.append(np.ones(n, np.int64) if spans is None else spans)
        self.writes.append(np.zeros(n, np.uint8) if writes is None else writes)
        self.n += n

    def pages(self):
        """(vpn, write) per page touched, in order."""
        if not self.keys:
            return np.zeros(0, np.int64), np.zeros(0, np.uint8)
        keys = np.concatenate(self.keys)
        spans = np.concatenate(self.spans)
        writes = np.concatenate(self.writes)
        self.keys = self.spans = self.writes = None
        if (spans != 1).any():
            # a straddling access: its pages first, first+1, ... in a row
            starts = np.repeat(np.cumsum(spans) - spans, spans)
            step = np.arange(len(starts), dtype=np.int64) - starts
            keys = np.repeat(keys, spans) + step.astype(keys.dtype)
            writes = np.repeat(writes, spans)
        if self.dense:
            keys = dense_ids(keys)
        return keys.astype(np.int64, copy=False), writes


def dense_ids(keys):
    """Renumber keys to 0..n-1 in order of first appearance."""
    if not len(keys):
        return np.zeros(0, np.int64)
    uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq), dtype=np.int64)
    return rank[inverse.reshape(-1)]


def _header(cgroup, limit, cpu):
    if isinstance(cpu, bool) or not isinstance(cpu, (int, np.integer)) or not 0 <= cpu <= 255:
        raise ValueError(f"cpu must be an int in 0..255, got {cpu!r}")
    if not isinstance(cgroup, str):
        raise TypeError(f"cgroup is a path string, not {type(cgroup).__name__}")
    b = Builder()
    path = cgroup.strip("/")
    if not path and limit is not None:
        path = "trace"
    parts = path.split("/") if path else []
    for i in range(len(parts)):
        b.mkdir("/".join(parts[:i + 1]), limit=limit if i == len(parts) - 1 else None)
    task = b.spawn(path, cpu=int(cpu))
    return b.build(), task


def _assemble(acc, *, cgroup, limit, cpu, merge_runs):
    head, task = _header(cgroup, limit, cpu)
    vpn, write = acc.pages()
    if acc.n == 0 and acc.limit != 0:
        raise TraceError(f"{acc.src.name}: no accesses found; is it a {acc.format} trace?")
    if merge_runs and len(vpn):
        starts = np.flatnonzero(np.r_[True, vpn[1:] != vpn[:-1]])
        write = np.logical_or.reduceat(write.astype(bool), starts).astype(np.uint8)
        vpn = vpn[starts]
    out = empty(len(head) + len(vpn))
    out[:len(head)] = head
    f = out[len(head):]
    f["op"] = OP["fault"]
    f["cpu"] = cpu
    f["task"] = task
    f["vpn"] = vpn
    f["count"] = 1
    f["flags"] = write * FLAG_WRITE
    return out


def _import_text(src, parser, acc, data=b"", lineno=1):
    for lineno0, chunk in _text_chunks(src, data, lineno):
        r = parser.fast(chunk)
        if r is not None:
            keys, spans, writes = r
            lines = None
        else:
            keys, spans, writes, lines = _slow(parser, src, chunk, lineno0)

        def where(i, lines=lines, chunk=chunk, lineno0=lineno0):
            if lines is None:
                lines = _slow(parser, src, chunk, lineno0)[3]
            return f":{int(lines[i])}"
        acc.add(keys, spans, writes, where)
        if acc.full:
            break


# --- the importers -------------------------------------------------------------------------

def _run(source, fmt, body, *, limit_events, dense, cpu, cgroup, limit, merge_runs):
    _header(cgroup, limit, cpu)                    # argument errors before any reading
    limit_events = _check_limit_events(limit_events)
    with _Source(source) as src:
        acc = _Accumulator(limit_events, dense, src, fmt)
        if not acc.full:
            body(src, acc)
    return _assemble(acc, cgroup=cgroup, limit=limit, cpu=cpu, merge_runs=merge_runs)


def from_oracle_general(source, *, dense=True, limit_events=None, cpu=0, cgroup="", limit=None,
                        merge_runs=False):
    """libCacheSim's oracleGeneral binary trace (24-byte records): object id -> page, reads."""
    def body(src, acc):
        for off, rec in _records(src, ORACLE_DTYPE):
            acc.add(np.ascontiguousarray(rec["obj_id"]),
                    where=lambda i, off=off: f": record at byte offset {off + 24 * i}")
            if acc.full:
                break
    return _run(source, "oracleGeneral", body, limit_events=limit_events, dense=dense, cpu=cpu,
                cgroup=cgroup, limit=limit, merge_runs=merge_runs)


def _csv_header(src):
    """(the first line, without its line end; the bytes read after it)."""
    data = b""
    while b"\n" not in data:
        more = src.read(_FIRST_CHUNK)
        if not more:
            break
        data += more
    header, _, rest = data.partition(b"\n")
    return header.rstrip(b"\r"), rest


def from_csv(source, *, id_column=None, dense=True, limit_events=None, cpu=0, cgroup="", limit=None,
             merge_runs=False):
    """libCacheSim csv block trace with a header (version,time,op,size,lbn in any order):
    the id column (lbn by default) -> page; writes from the op column if there is one."""
    def body(src, acc):
        header, rest = _csv_header(src)
        _import_text(src, _Csv(header, id_column, src), acc, rest, lineno=2)
    return _run(source, "csv", body, limit_events=limit_events, dense=dense, cpu=cpu, cgroup=cgroup,
                limit=limit, merge_runs=merge_runs)


def from_lackey(source, *, instructions=True, dense=True, limit_events=None, cpu=0, cgroup="", limit=None,
                merge_runs=False):
    """valgrind --tool=lackey --trace-mem=yes output: each I/L/S/M line an access to the
    pages of ADDRESS..ADDRESS+SIZE-1; S and M are writes; I lines only if instructions."""
    parser = _Lackey(instructions)
    return _run(source, "lackey", lambda src, acc: _import_text(src, parser, acc), limit_events=limit_events,
                dense=dense, cpu=cpu, cgroup=cgroup, limit=limit, merge_runs=merge_runs)


def from_address(source, *, dense=False, limit_events=None, cpu=0, cgroup="", limit=None, merge_runs=False):
    """Address trace lines 'l|s 0xADDRESS N' (N: instructions since the previous access,
    ignored): page = ADDRESS >> 12; s is a write."""
    parser = _Address()
    return _run(source, "address", lambda src, acc: _import_text(src, parser, acc), limit_events=limit_events,
                dense=dense, cpu=cpu, cgroup=cgroup, limit=limit, merge_runs=merge_runs)


def _looks_like_text(data):
    sample = np.frombuffer(data[:4096], np.uint8)
    return bool(((sample >= 32) & (sample < 127) | (sample == 9) | (sample == 10) | (sample == 13)).all())


def from_block_ids(source, *, binary=None, dense=True, limit_events=None, cpu=0, cgroup="", limit=None,
                   merge_runs=False):
    """Block ids, one integer per text line, or little-endian int32s (binary=True); reads.
    binary=None: text if the first 4 KiB are printable ASCII, else binary."""
    def body(src, acc):
        data = src.read(4096)
        if binary is None:
            is_binary = not (data.startswith(b"\xef\xbb\xbf") or _looks_like_text(data))
        else:
            is_binary = bool(binary)
        if not is_binary and data.startswith(b"\xef\xbb\xbf"):     # a UTF-8 byte order mark
            data = data[3:]
        if is_binary:
            for off, ids in _records(src, np.dtype("<i4"), data):
                acc.add(ids.astype(np.int64), where=lambda i, off=off: f": id at byte offset {off + 4 * i}")
                if acc.full:
                    break
        else:
            _import_text(src, _BlockText(), acc, data)
    return _run(source, "blockids", body, limit_events=limit_events, dense=dense, cpu=cpu, cgroup=cgroup,
                limit=limit, merge_runs=merge_runs)


_IMPORTERS = {"oracleGeneral": from_oracle_general, "csv": from_csv, "lackey": from_lackey,
              "address": from_address, "blockids": from_block_ids}


def load_foreign(path, format, **kw):
    """Import a foreign trace: format is one of FORMATS; keyword arguments go to the importer."""
    try:
        fn = _IMPORTERS[format]
    except (KeyError, TypeError):
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}") from None
    return fn(path, **kw)


# --- what a file is ----------------------------------------------------------------------------

_SNIFF = 1 << 16
_ADDRESS_LINE = re.compile(rb"[ls] (?:0[xX])?[0-9a-fA-F]{1,16}(?: \S+)*")
_LACKEY_LINE = re.compile(rb"(?:==\d+==.*|I  .*| [LSM] .*)")


def _is_oracle_general(data, exact):
    """Whole records of libCacheSim's oracleGeneral: a time stamp that never goes back by
    much, and a next-access virtual time that is -1 or after the record's own (and below
    2**32: no trace has more requests; int32 ids read as records fail this)."""
    n = len(data) // ORACLE_DTYPE.itemsize
    if n == 0 or (exact and len(data) % ORACLE_DTYPE.itemsize):
        return False
    rec = np.frombuffer(data[:n * ORACLE_DTYPE.itemsize], ORACLE_DTYPE)
    nxt = rec["next_access_vtime"]
    vtime = np.arange(n)
    return bool(((nxt == -1) | ((nxt > vtime) & (nxt < 1 << 32))).all()
                and (np.diff(rec["time"].astype(np.int64)) >= -3600).all())


def detect_format(source):
    """The FORMATS entry a foreign trace file looks like (read from its first 64 KiB,
    decompressed), or None when it could be several or none.  A pymemcg .npy trace or
    .csv trace is not foreign: it gives None."""
    with _Source(source) as src:
        data = src.read(_SNIFF)
        whole = len(data) < _SNIFF
    if not data or data.startswith(b"\x93NUMPY"):
        return None
    if not _looks_like_text(data):
        if _is_oracle_general(data, whole):
            return "oracleGeneral"
        return "blockids" if not whole or len(data) % 4 == 0 else None
    lines = [ln.rstrip(b"\r") for ln in data.split(b"\n")[:-1 if not whole else None] if ln.strip()][:200]
    if not lines:
        return None
    head = lines[0].decode("ascii", "replace").strip().lower()
    if "," in head and any(c.isalpha() for c in head):
        names = [h.strip() for h in head.split(",")]
        if names == ["op", "cpu", "task", "vpn", "count", "flags", "name"]:
            return None                                      # a pymemcg csv trace
        return "csv" if any(n in names for n in _CSV_ID_COLUMNS) else None
    if all(_LACKEY_LINE.fullmatch(ln) for ln in lines) and any(ln[:1] in b"I " for ln in lines):
        return "lackey"
    if all(_ADDRESS_LINE.fullmatch(ln) for ln in lines):
        return "address"
    if all(re.fullmatch(rb"\s*-?\d{1,18}\s*", ln) for ln in lines):
        return "blockids"
    return None


def timestamps(source, format, *, limit_events=None):
    """The time stamp of each access, for the formats that record one (oracleGeneral: its
    time field; csv: a "time" or "timestamp" column), as float64 in the file's units, in
    the order the importer emits the accesses; None for formats without time stamps."""
    limit_events = _check_limit_events(limit_events)
    parts = []
    got = 0
    with _Source(source) as src:
        if format == "oracleGeneral":
            for _, rec in _records(src, ORACLE_DTYPE):
                parts.append(rec["time"].astype(np.float64))
                got += len(rec)
                if limit_events is not None and got >= limit_events:
                    break
        elif format == "csv":
            header, rest = _csv_header(src)
            names = [h.strip().lower() for h in header.decode("utf-8", "replace").split(",")]
            col = next((names.index(n) for n in ("time", "timestamp", "ts") if n in names), None)
            if col is None:
                return None
            values = []
            for lineno, chunk in _text_chunks(src, rest, 2):
                for i, row in enumerate(csv.reader(chunk.decode("utf-8", "replace").splitlines())):
                    if not "".join(row).strip():
                        continue
                    try:
                        values.append(float(row[col]))
                    except (ValueError, IndexError):
                        raise TraceError(f"{src.name}:{lineno + i}: time {row[col:col + 1]} is not a number") from None
                if limit_events is not None and len(values) >= limit_events:
                    break
            parts.append(np.array(values, np.float64))
        else:
            return None
    times = np.concatenate(parts) if parts else np.zeros(0)
    return times[:limit_events] if limit_events is not None else times


def _import_command(path, format="FORMAT"):
    stem = os.path.basename(os.fspath(path))
    for ext in (".gz", ".xz", ".bin", ".trace", ".csv", ".txt"):
        stem = stem[:-len(ext)] if stem.endswith(ext) else stem
    return f"pymemcg import --format {format} {os.fspath(path)} {stem or 'trace'}.npy"


def load_any(path, format=None, *, limit_events=None):
    """A trace from a file: a pymemcg trace (.npy, or .csv with pymemcg's header) as
    trace.load reads it, or a foreign trace imported on the fly, in `format` or in the
    format detect_format sees.  Returns (trace, the foreign format or None).  A file whose
    format is unclear raises TraceError saying which `pymemcg import` command to run."""
    from .trace import CSV_FIELDS, load
    p = os.fspath(path)
    if format is None and p.endswith(".npy"):
        return load(p), None
    if format is None and p.endswith(".csv"):
        with open(p, "rb") as f:
            if f.readline().decode("utf-8", "replace").strip() == ",".join(CSV_FIELDS):
                return load(p), None
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    fmt = format or detect_format(p)
    if fmt is None:
        raise TraceError(f"{p}: not a pymemcg trace, and its format is not clear from its contents; import it "
                         f"first: {_import_command(p)} (FORMAT: {', '.join(FORMATS)}), or name the format "
                         f"with --format")
    return load_foreign(p, fmt, limit_events=limit_events), fmt
