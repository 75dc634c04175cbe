"""The memory cgroup control files of 2.6.30 (and the 2.6.31 differences), as the kernel behaves.

Every expected value below comes from the 2.6.30 / 2.6.31 sources:
- kernel/cgroup.c: cgroup_file_write dispatches to cgroup_write_X64 (use_hierarchy, swappiness:
  0 bytes -> EINVAL, >= 64 bytes -> E2BIG, simple_strtoull base 0, nothing may follow),
  cgroup_write_string (limits: >= 63 bytes -> E2BIG) or the trigger (failcnt, max_usage,
  force_empty: the written bytes are ignored). Both string paths call ``strstrip(buffer)`` and
  IGNORE its return value (fixed only by "cgroup: fix strstrip() abuse", Oct 2009, after 2.6.31),
  so trailing whitespace is cut but leading whitespace stays and makes the number invalid.
  A file without a write handler (usage_in_bytes, stat) answers EINVAL; one without a read
  handler (force_empty) answers EINVAL on read.
- kernel/res_counter.c: res_counter_memparse_write_strategy: memparse + PAGE_ALIGN (u64 wrap);
  2.6.31 adds "-1" (simple_strtoull base 10 after the '-', must be exactly 1) -> RESOURCE_MAX.
- lib/cmdline.c memparse (K/M/G only, either case), lib/vsprintf.c simple_strtoull
  (simple_guess_base: 0x + hex digit -> 16, leading 0 -> 8, else 10; wraps modulo 2**64).
- mm/memcontrol.c: mem_cgroup_resize_limit / _memsw_limit, mem_cgroup_hierarchy_write,
  mem_cgroup_swappiness_write, mem_cgroup_reset, mem_control_stat_show,
  memcg_get_hierarchical_limit, mem_cgroup_force_empty / move_parent / move_account.

Engines that must not reclaim (force_empty, moving to a parent at its limit, OOM) are built with
swap="0": then the kernel's reclaim cannot free anon pages either (get_scan_ratio gives anon 0%),
so the kernel and the engine agree on every counter.
"""
import contextlib
import errno

import pytest

import pymemcg
from pymemcg import CgroupError

P = pymemcg.PAGE_SIZE
UNLIMITED = 9223372036854775807  # RESOURCE_MAX == LLONG_MAX

STAT_KEYS = ["cache", "rss", "pgpgin", "pgpgout", "inactive_anon", "active_anon", "inactive_file",
             "active_file", "unevictable", "hierarchical_memory_limit", "hierarchical_memsw_limit",
             "total_cache", "total_rss", "total_pgpgin", "total_pgpgout", "total_inactive_anon",
             "total_active_anon", "total_inactive_file", "total_active_file", "total_unevictable"]

COUNTER_FILES = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.usage_in_bytes",
                 "memory.memsw.usage_in_bytes", "memory.max_usage_in_bytes",
                 "memory.memsw.max_usage_in_bytes", "memory.failcnt", "memory.memsw.failcnt"]
MEMSW_FILES = [f for f in COUNTER_FILES if ".memsw." in f]

SUGAR = {"limit_in_bytes": "memory.limit_in_bytes",
         "memsw_limit_in_bytes": "memory.memsw.limit_in_bytes",
         "usage_in_bytes": "memory.usage_in_bytes",
         "memsw_usage_in_bytes": "memory.memsw.usage_in_bytes",
         "max_usage_in_bytes": "memory.max_usage_in_bytes",
         "memsw_max_usage_in_bytes": "memory.memsw.max_usage_in_bytes",
         "failcnt": "memory.failcnt",
         "memsw_failcnt": "memory.memsw.failcnt",
         "swappiness": "memory.swappiness",
         "use_hierarchy": "memory.use_hierarchy"}


@contextlib.contextmanager
def refused(code):
    """The call must raise CgroupError (an OSError) carrying the kernel's errno."""
    with pytest.raises(CgroupError) as info:
        yield
    assert isinstance(info.value, OSError)
    assert info.value.errno == code, (errno.errorcode.get(info.value.errno), errno.errorcode[code])


def small(kernel="2.6.30", swap="16M", **kw):
    return pymemcg.Engine(ram="16M", swap=swap, kernel=kernel, **kw)


def stat_of(cg, **nonzero):
    """The memory.stat dict expected for cg: every field 0 except hierarchical limits and **nonzero."""
    out = {k: 0 for k in STAT_KEYS}
    out["hierarchical_memory_limit"] = UNLIMITED
    out["hierarchical_memsw_limit"] = UNLIMITED
    out.update(nonzero)
    return out


# ---------------------------------------------------------------------------------------------
# reads: the kernel's text, and the attribute sugar
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["2.6.30", "2.6.31"])
def test_fresh_cgroup_reads_kernel_text(kernel):
    eng = small(kernel)
    for cg in (eng.root, eng.mkdir("a")):
        assert cg.read("memory.limit_in_bytes") == "9223372036854775807\n"
        assert cg.read("memory.memsw.limit_in_bytes") == "9223372036854775807\n"
        for f in ("memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.max_usage_in_bytes",
                  "memory.memsw.max_usage_in_bytes", "memory.failcnt", "memory.memsw.failcnt",
                  "memory.use_hierarchy"):
            assert cg.read(f) == "0\n", f
        assert cg.read("memory.swappiness") == "60\n"


def test_read_values_after_faults_are_number_newline():
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    t = eng.spawn(cg)
    assert t.fault(range(10)) == 10
    t.munmap(range(4))
    assert cg.read("memory.limit_in_bytes") == "1048576\n"
    assert cg.read("memory.usage_in_bytes") == f"{6 * P}\n"
    assert cg.read("memory.memsw.usage_in_bytes") == f"{6 * P}\n"
    assert cg.read("memory.max_usage_in_bytes") == f"{10 * P}\n"
    assert cg.read("memory.memsw.max_usage_in_bytes") == f"{10 * P}\n"
    assert cg.read("memory.failcnt") == "0\n"


def test_attribute_sugar_agrees_with_read():
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "64k")
    cg.write("memory.memsw.limit_in_bytes", "128k")
    cg.write("memory.swappiness", "33")
    t = eng.spawn(cg)
    t.fault(range(7))
    t.munmap(range(2))
    for attr, f in SUGAR.items():
        value = getattr(cg, attr)
        assert isinstance(value, int)
        assert value == int(cg.read(f)), attr
    assert (cg.limit_in_bytes, cg.memsw_limit_in_bytes, cg.usage_in_bytes, cg.max_usage_in_bytes,
            cg.swappiness, cg.use_hierarchy) == (65536, 131072, 5 * P, 7 * P, 33, 0)


def test_attribute_sugar_writes_like_write():
    eng = small()
    cg = eng.mkdir("a")
    cg.limit_in_bytes = "1m"
    assert cg.read("memory.limit_in_bytes") == "1048576\n"
    cg.limit_in_bytes = 4097                  # an int is written as its decimal text, then rounded up
    assert cg.read("memory.limit_in_bytes") == "8192\n"
    cg.memsw_limit_in_bytes = "2M"
    assert cg.read("memory.memsw.limit_in_bytes") == "2097152\n"
    cg.swappiness = 10
    assert cg.read("memory.swappiness") == "10\n"
    cg.use_hierarchy = 1
    assert cg.read("memory.use_hierarchy") == "1\n"
    with unchanged_limit(cg), refused(errno.EINVAL):
        cg.limit_in_bytes = "1xx"


@contextlib.contextmanager
def unchanged_limit(cg):
    before = cg.read("memory.limit_in_bytes")
    yield
    assert cg.read("memory.limit_in_bytes") == before


def test_stat_text_is_key_value_lines_in_kernel_order():
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    t = eng.spawn(cg)
    t.fault(range(5))
    t.munmap([0])
    expected = stat_of(cg, rss=4 * P, pgpgin=5, pgpgout=1, active_anon=4 * P,
                       hierarchical_memory_limit=1048576,
                       total_rss=4 * P, total_pgpgin=5, total_pgpgout=1, total_active_anon=4 * P)
    text = cg.read("memory.stat")
    assert text == "".join(f"{k} {expected[k]}\n" for k in STAT_KEYS)
    assert cg.stat() == expected
    assert list(cg.stat()) == STAT_KEYS


def test_stat_fields_after_fault_munmap_mlock():
    eng = small()
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    assert t.fault(range(10)) == 10                  # new anon pages: active_anon
    assert cg.stat() == stat_of(cg, rss=10 * P, pgpgin=10, active_anon=10 * P,
                                total_rss=10 * P, total_pgpgin=10, total_active_anon=10 * P)
    t.munmap(range(3))                               # uncharged: rss-3, pgpgout+3
    t.mlock(range(20, 24))                           # 4 new pages, faulted in locked: unevictable
    t.mlock(range(3, 5))                             # 2 present pages become unevictable, no new charge
    assert cg.stat() == stat_of(cg, rss=11 * P, pgpgin=14, pgpgout=3, active_anon=5 * P,
                                unevictable=6 * P, total_rss=11 * P, total_pgpgin=14,
                                total_pgpgout=3, total_active_anon=5 * P, total_unevictable=6 * P)
    assert cg.usage_in_bytes == 11 * P
    t.exit()
    assert cg.stat() == stat_of(cg, pgpgin=14, pgpgout=14, total_pgpgin=14, total_pgpgout=14)
    assert cg.usage_in_bytes == 0 and cg.memsw_usage_in_bytes == 0
    assert cg.max_usage_in_bytes == 11 * P


def test_root_is_charged_in_2_6_30():
    eng = small()
    t = eng.spawn(eng.root)
    t.fault(range(3))
    assert eng.root.read("memory.usage_in_bytes") == f"{3 * P}\n"
    assert eng.root.stat()["rss"] == 3 * P
    assert eng.root.stat()["active_anon"] == 3 * P


# ---------------------------------------------------------------------------------------------
# limit parsing: res_counter_memparse_write_strategy
# ---------------------------------------------------------------------------------------------

ACCEPTED_LIMITS = [
    ("1M", 1 << 20), ("1m", 1 << 20), ("4k", 4096), ("4K", 4096), ("1G", 1 << 30), ("1g", 1 << 30),
    ("0x1000", 4096), ("0X1000", 4096), ("0x1fk", 32768),        # 31K rounded up to 32K
    ("010", 4096),                                               # octal 8, rounded up to a page
    ("017k", 16384),                                             # octal 15 K = 15360 -> 16384
    ("1", 4096), ("4095", 4096), ("4096", 4096), ("4097", 8192), ("3k", 4096), ("5k", 8192),
    ("0", 0), ("0k", 0), ("00", 0),
    ("k", 0), ("M", 0), ("g", 0),                                # memparse needs no digits: 0 << shift
    ("1M\n", 1 << 20), ("1M \t\n", 1 << 20), ("4k\n\n", 4096),   # trailing whitespace is cut
    ("", 0), (" ", 0), ("\n", 0),                                # empty after strstrip: memparse("") = 0
    ("4k\x00junk", 4096),                                        # the C string ends at the NUL
    ("9223372036854771712", 9223372036854771712),                # the largest page multiple <= LLONG_MAX
    ("8589934591G", 8589934591 << 30),
    ("18446744073709551615", 0),                                 # PAGE_ALIGN wraps modulo 2**64
    ("18446744073709551616", 0),                                 # simple_strtoull wraps modulo 2**64
]


@pytest.mark.parametrize("kernel", ["2.6.30", "2.6.31"])
@pytest.mark.parametrize("text,value", ACCEPTED_LIMITS)
def test_limit_parsing_accepts(kernel, text, value):
    eng = small(kernel)
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", text)
    assert cg.read("memory.limit_in_bytes") == f"{value}\n"
    assert cg.limit_in_bytes == value
    assert cg.stat()["hierarchical_memory_limit"] == value


@pytest.mark.parametrize("text,value", [t for t in ACCEPTED_LIMITS
                                        if t[1] <= 9223372036854771712 and t[1] >= 1 << 20])
def test_memsw_limit_parsing_accepts(text, value):
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", text)
    assert cg.read("memory.memsw.limit_in_bytes") == f"{value}\n"
    assert cg.memsw_limit_in_bytes == value


REFUSED_LIMITS = [
    "1.0", "1xx", "xx", "1MB", "1kk", "1T", "1P", "1E", "1e", "1b", "1,5", "1 M", "+1", "08", "09",
    "0x", "0xg", "kk", "-", "--1",
    " 1M", "\t4k", "\n4096", " 0",   # strstrip()'s return value is ignored: leading blanks stay
    "9223372036854771713",           # PAGE_ALIGN -> 2**63 > the memsw limit (LLONG_MAX)
    "0x8000000000000000",
    "8589934592G",
]


@pytest.mark.parametrize("kernel", ["2.6.30", "2.6.31"])
@pytest.mark.parametrize("text", REFUSED_LIMITS)
def test_limit_junk_is_einval_and_changes_nothing(kernel, text, unchanged):
    eng = small(kernel)
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "2M")
    t = eng.spawn(cg)
    t.fault(range(3))
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.limit_in_bytes", text)
    assert cg.read("memory.limit_in_bytes") == "2097152\n"


@pytest.mark.parametrize("text", ["1.0", "1xx", "xx", "1MB", " 4M", "-2", "1T"])
def test_memsw_limit_junk_is_einval(text, unchanged):
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "2M")
    cg.write("memory.memsw.limit_in_bytes", "4M")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.memsw.limit_in_bytes", text)
    assert cg.read("memory.memsw.limit_in_bytes") == "4194304\n"


@pytest.mark.parametrize("text", ["-1", "-1\n", "-01"])
@pytest.mark.parametrize("name", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])
def test_minus_one_refused_on_2_6_30(name, text, unchanged):
    eng = small("2.6.30")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "2M")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write(name, text)
    assert cg.read("memory.memsw.limit_in_bytes") == "2097152\n"
    assert cg.read("memory.limit_in_bytes") == "1048576\n"


@pytest.mark.parametrize("text", ["-1", "-1\n", "-01", "-001 \n"])
def test_minus_one_is_unlimited_on_2_6_31(text):
    eng = small("2.6.31")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "2M")
    cg.write("memory.memsw.limit_in_bytes", text)
    assert cg.read("memory.memsw.limit_in_bytes") == "9223372036854775807\n"
    cg.write("memory.limit_in_bytes", text)
    assert cg.read("memory.limit_in_bytes") == "9223372036854775807\n"
    assert cg.stat()["hierarchical_memory_limit"] == UNLIMITED


def test_minus_one_memory_limit_still_below_memsw_on_2_6_31(unchanged):
    """-1 means RESOURCE_MAX, which is above a finite mem+swap limit: EINVAL."""
    eng = small("2.6.31")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "2M")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.limit_in_bytes", "-1")
    assert cg.read("memory.limit_in_bytes") == "1048576\n"


@pytest.mark.parametrize("text", ["-2", "-1k", "-0x1", "--1", "-", "-1.0", " -1", "-1 1", "-0"])
@pytest.mark.parametrize("name", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])
def test_other_negative_limits_refused_on_2_6_31(name, text, unchanged):
    eng = small("2.6.31")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "2M")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write(name, text)


def test_limit_rounding_against_usage():
    """The value is rounded up before it is compared with the usage."""
    eng = small()
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(10))
    cg.write("memory.limit_in_bytes", "40959")       # rounds up to 40960 == usage: accepted
    assert cg.read("memory.limit_in_bytes") == "40960\n"
    cg.write("memory.limit_in_bytes", "40k")
    assert cg.limit_in_bytes == 40960


def test_empty_limit_write_is_zero_only_when_usage_is_zero(unchanged):
    eng = small(swap="0")   # with swap the kernel would reclaim by swapping out
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "")            # memparse("") == 0, *end == '\0'
    assert cg.read("memory.limit_in_bytes") == "0\n"
    cg.write("memory.limit_in_bytes", "1M")
    t = eng.spawn(cg)
    t.fault(range(2))
    # 0 < usage: reclaim (which only moves pages between the LRU lists here) and then
    # res_counter_set_limit -> EBUSY; the limit and the charges stay
    with refused(errno.EBUSY):
        cg.write("memory.limit_in_bytes", "")
    with refused(errno.EBUSY):
        cg.write("memory.limit_in_bytes", " \n")
    assert cg.read("memory.limit_in_bytes") == "1048576\n"
    assert cg.usage_in_bytes == 2 * P


# ---------------------------------------------------------------------------------------------
# write sizes: E2BIG
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])
def test_limit_write_size_limit(name, unchanged):
    """cgroup_write_string: 64 bytes and more -> E2BIG; 62 bytes are parsed."""
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "1M")
    for text in ("0" * 63 + "1", "1" + " " * 63, "x" * 100):
        with unchanged(eng), refused(errno.E2BIG):
            cg.write(name, text)
    if "memsw" in name:
        cg.write(name, "0" * 60 + "4M")              # 62 bytes: octal 04, M suffix
        assert cg.read(name) == "4194304\n"
    else:
        cg.write(name, "0" * 61 + "1")               # 62 bytes: octal 1, rounded up to a page
        assert cg.read(name) == "4096\n"


@pytest.mark.parametrize("name", ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])
@pytest.mark.parametrize("text", ["0" * 62 + "1", "0" * 61 + "4M", "4M" + " " * 61, "4M" + "\n" * 61],
                         ids=["octal-1", "octal-4M", "4M-blanks", "4M-newlines"])
def test_limit_write_of_63_bytes_is_e2big(name, text, unchanged):
    """max_bytes = sizeof(local_buffer) - 1 = 63 and the test is nbytes >= max_bytes, so 63 bytes
    (trailing blanks included: they are counted before strstrip) are already too many."""
    assert len(text) == 63
    eng = small()
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "1M")
    cg.write("memory.memsw.limit_in_bytes", "1M")
    with unchanged(eng), refused(errno.E2BIG):
        cg.write(name, text)
    assert cg.read(name) == "1048576\n"


@pytest.mark.parametrize("name", ["memory.swappiness", "memory.use_hierarchy"])
def test_u64_write_size_limit(name, unchanged):
    """cgroup_write_X64: nbytes >= sizeof(buffer) = 64 -> E2BIG; 63 bytes are parsed."""
    eng = small()
    cg = eng.mkdir("a")
    with unchanged(eng), refused(errno.E2BIG):
        cg.write(name, "0" * 63 + "1")
    with unchanged(eng), refused(errno.E2BIG):
        cg.write(name, "1" + "\n" * 63)
    cg.write(name, "0" * 62 + "1")                   # 63 bytes: octal 1
    assert cg.read(name) == "1\n"
    cg.write(name, "0" + "\n" * 62)                  # 63 bytes, trailing newlines cut
    assert cg.read(name) == "0\n"


@pytest.mark.parametrize("name,attr", [("memory.failcnt", "failcnt"),
                                       ("memory.max_usage_in_bytes", "max_usage_in_bytes"),
                                       ("memory.memsw.failcnt", "memsw_failcnt"),
                                       ("memory.memsw.max_usage_in_bytes", "memsw_max_usage_in_bytes")])
def test_trigger_files_ignore_the_written_bytes(name, attr):
    """A trigger gets no buffer at all: any content and any length resets."""
    eng = small()
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(6))
    t.munmap(range(4))
    cg.write(name, "garbage that is clearly longer than sixty-four bytes of text, really it is")
    assert getattr(cg, attr) == (2 * P if "max_usage" in name else 0)


@pytest.mark.parametrize("name,code", [("memory.usage_in_bytes", errno.EINVAL),
                                       ("memory.memsw.usage_in_bytes", errno.EINVAL),
                                       ("memory.stat", errno.EINVAL),
                                       ("memory.nonexistent", errno.ENOENT)])
def test_long_writes_to_non_string_files_keep_their_errno(name, code, unchanged):
    """No write handler -> EINVAL, no file -> ENOENT: the size of the write plays no part."""
    eng = small()
    cg = eng.mkdir("a")
    with unchanged(eng), refused(code):
        cg.write(name, "9" * 100)


def test_long_force_empty_write_still_empties():
    eng = small(swap="0")
    p = eng.mkdir("p")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(3))
    t.move(eng.root)
    c.write("memory.force_empty", "y" * 100)
    assert (c.usage_in_bytes, p.usage_in_bytes) == (0, 3 * P)


# ---------------------------------------------------------------------------------------------
# memory limit vs mem+swap limit, and limits below usage
# ---------------------------------------------------------------------------------------------

def test_memory_limit_never_above_memsw_limit(unchanged):
    eng = small()
    cg = eng.mkdir("a")
    # the memory limit is still unlimited: any finite mem+swap limit is below it
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.memsw.limit_in_bytes", "8M")
    cg.write("memory.limit_in_bytes", "8M")
    cg.write("memory.memsw.limit_in_bytes", "8M")   # equal is fine
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.limit_in_bytes", "8196k")  # rounded 8196K > 8M
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.limit_in_bytes", "9M")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.memsw.limit_in_bytes", "4M")
    cg.write("memory.memsw.limit_in_bytes", "8388607")  # rounded up to 8M: equal, accepted
    assert cg.read("memory.memsw.limit_in_bytes") == "8388608\n"
    cg.write("memory.limit_in_bytes", "4M")
    cg.write("memory.memsw.limit_in_bytes", "4M")
    assert (cg.limit_in_bytes, cg.memsw_limit_in_bytes) == (4 << 20, 4 << 20)
    cg.write("memory.memsw.limit_in_bytes", "16M")
    cg.write("memory.limit_in_bytes", "16M")
    assert (cg.limit_in_bytes, cg.memsw_limit_in_bytes) == (16 << 20, 16 << 20)


def test_memory_limit_above_llong_max_is_einval_even_without_swap_accounting(unchanged):
    eng = small(swap_account=False)
    cg = eng.mkdir("a")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write("memory.limit_in_bytes", "9223372036854775807")
    cg.write("memory.limit_in_bytes", "9223372036854771712")
    assert cg.limit_in_bytes == 9223372036854771712


def test_limit_below_usage_is_ebusy(unchanged):
    eng = small(swap="0")   # with swap the kernel would reclaim by swapping out
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(10))
    # mem_cgroup_resize_limit reclaims first (with no swap it can only move pages between
    # the LRU lists), then refuses: the limit and the charges stay
    with refused(errno.EBUSY):
        cg.write("memory.limit_in_bytes", "36k")
    with refused(errno.EBUSY):
        cg.write("memory.limit_in_bytes", "0")
    assert cg.read("memory.limit_in_bytes") == "9223372036854775807\n"
    assert cg.usage_in_bytes == 10 * P
    t.munmap(range(1))
    cg.write("memory.limit_in_bytes", "36k")
    assert cg.limit_in_bytes == 36864


def test_limit_below_subtree_usage_is_ebusy_under_hierarchy(unchanged):
    eng = small(swap="0")   # with swap the kernel would reclaim by swapping out
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    b = eng.mkdir("a/b")
    t = eng.spawn(b)
    t.fault(range(5))
    with refused(errno.EBUSY):
        a.write("memory.limit_in_bytes", "16k")
    assert a.limit_in_bytes == 9223372036854775807 and a.usage_in_bytes == 5 * P
    a.write("memory.limit_in_bytes", "20k")
    assert a.limit_in_bytes == 20480


def test_limits_on_the_root_are_writable_in_2_6_30():
    eng = small()
    eng.root.write("memory.limit_in_bytes", "8M")
    eng.root.write("memory.memsw.limit_in_bytes", "12M")
    assert eng.root.read("memory.limit_in_bytes") == "8388608\n"
    assert eng.root.read("memory.memsw.limit_in_bytes") == "12582912\n"


# ---------------------------------------------------------------------------------------------
# failcnt and max_usage
# ---------------------------------------------------------------------------------------------

def test_failcnt_and_max_usage_grow_and_reset():
    eng = small(swap="0")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "40k")
    t = eng.spawn(cg)
    # page 11 fails: charge, no reclaim possible, 5 retries -> 6 failures at res, then memcg OOM
    assert t.fault(range(11)) == 10
    assert not t.alive and t.oom_killed
    assert cg.read("memory.failcnt") == "6\n"
    assert cg.read("memory.memsw.failcnt") == "0\n"
    assert cg.read("memory.max_usage_in_bytes") == f"{10 * P}\n"
    assert cg.read("memory.memsw.max_usage_in_bytes") == f"{10 * P}\n"
    assert cg.read("memory.usage_in_bytes") == "0\n"
    t2 = eng.spawn(cg)
    t2.fault(range(3))
    cg.write("memory.failcnt", "5")                  # any write resets to 0
    assert cg.read("memory.failcnt") == "0\n"
    cg.write("memory.max_usage_in_bytes", "0")       # any write resets to the current usage
    assert cg.read("memory.max_usage_in_bytes") == f"{3 * P}\n"
    assert cg.read("memory.memsw.max_usage_in_bytes") == f"{10 * P}\n"
    cg.write("memory.memsw.max_usage_in_bytes", "")
    assert cg.read("memory.memsw.max_usage_in_bytes") == f"{3 * P}\n"
    cg.write("memory.memsw.failcnt", "1")
    assert cg.read("memory.memsw.failcnt") == "0\n"
    t2.fault(range(3, 5))
    assert cg.max_usage_in_bytes == 5 * P and cg.memsw_max_usage_in_bytes == 5 * P


def test_failcnt_counts_at_the_level_that_failed():
    eng = small(swap="0")
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    a.write("memory.limit_in_bytes", "16k")
    b = eng.mkdir("a/b")
    t = eng.spawn(b)
    assert t.fault(range(5)) == 4
    assert t.oom_killed
    assert a.failcnt == 6
    assert b.failcnt == 0
    # b was charged before a refused; the undo lowers usage but never max_usage
    assert a.max_usage_in_bytes == 4 * P and b.max_usage_in_bytes == 5 * P
    assert a.usage_in_bytes == 0 and b.usage_in_bytes == 0


# ---------------------------------------------------------------------------------------------
# use_hierarchy
# ---------------------------------------------------------------------------------------------

def test_use_hierarchy_rules(unchanged):
    eng = small()
    a = eng.mkdir("a")
    for bad in ("2", "-1", "1.0", "x", "1 1", "k"):
        with unchanged(eng), refused(errno.EINVAL):
            a.write("memory.use_hierarchy", bad)
    a.write("memory.use_hierarchy", "1\n")
    assert a.read("memory.use_hierarchy") == "1\n"
    a.write("memory.use_hierarchy", "0")
    a.write("memory.use_hierarchy", "0x1")
    assert a.use_hierarchy == 1
    b = eng.mkdir("a/b")
    assert b.read("memory.use_hierarchy") == "1\n"     # inherited
    for val in ("0", "1"):                              # the parent uses hierarchy: EINVAL
        with unchanged(eng), refused(errno.EINVAL):
            b.write("memory.use_hierarchy", val)
    for val in ("0", "1"):                              # a has a child: EBUSY, even for no change
        with unchanged(eng), refused(errno.EBUSY):
            a.write("memory.use_hierarchy", val)
    with unchanged(eng), refused(errno.EINVAL):         # a bad value is EINVAL before EBUSY
        a.write("memory.use_hierarchy", "2")
    with unchanged(eng), refused(errno.EBUSY):          # the root has a child too
        eng.root.write("memory.use_hierarchy", "1")
    c = eng.mkdir("a/b/c")
    assert c.use_hierarchy == 1


@pytest.mark.parametrize("name", ["memory.use_hierarchy", "memory.swappiness"])
@pytest.mark.parametrize("text", ["", " 1", "\t1", "\n0", " 0 "])
def test_u64_files_refuse_empty_and_leading_blanks(name, text, unchanged):
    """cgroup_write_X64: nbytes == 0 -> EINVAL; strstrip's result is ignored, so a leading blank
    stops simple_strtoull at once and *end != 0 -> EINVAL."""
    eng = small()
    cg = eng.mkdir("a")
    cg.write(name, "1")
    with unchanged(eng), refused(errno.EINVAL):
        cg.write(name, text)
    assert cg.read(name) == "1\n"


def test_use_hierarchy_blank_write_is_zero():
    """One blank byte: nbytes != 0, strstrip leaves "", simple_strtoull("") == 0 with *end == 0."""
    eng = small()
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    a.write("memory.use_hierarchy", " ")
    assert a.read("memory.use_hierarchy") == "0\n"
    a.write("memory.use_hierarchy", "18446744073709551617")   # wraps to 1
    assert a.read("memory.use_hierarchy") == "1\n"


def test_root_use_hierarchy_when_childless():
    eng = small()
    eng.root.write("memory.use_hierarchy", "1")
    a = eng.mkdir("a")
    assert a.use_hierarchy == 1
    t = eng.spawn(a)
    t.fault(range(3))
    assert eng.root.usage_in_bytes == 3 * P
    assert eng.root.stat()["total_rss"] == 3 * P
    assert eng.root.stat()["rss"] == 0


def test_hierarchical_charging_depends_on_parent_at_creation():
    eng = small()
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    ab = eng.mkdir("a/b")
    x = eng.mkdir("x")
    xy = eng.mkdir("x/y")
    assert xy.use_hierarchy == 0
    t1 = eng.spawn(ab)
    t2 = eng.spawn(xy)
    t1.fault(range(5))
    t2.fault(range(7))
    assert (ab.usage_in_bytes, a.usage_in_bytes) == (5 * P, 5 * P)
    assert (ab.memsw_usage_in_bytes, a.memsw_usage_in_bytes) == (5 * P, 5 * P)
    assert a.max_usage_in_bytes == 5 * P
    assert (xy.usage_in_bytes, x.usage_in_bytes) == (7 * P, 0)
    assert eng.root.usage_in_bytes == 0               # the root does not use hierarchy
    # x gains use_hierarchy only once it is childless; a child created after that is charged up
    t2.exit()
    xy.rmdir()
    x.write("memory.use_hierarchy", "1")
    xz = eng.mkdir("x/z")
    assert xz.use_hierarchy == 1
    t3 = eng.spawn(xz)
    t3.fault(range(2))
    assert (xz.usage_in_bytes, x.usage_in_bytes) == (2 * P, 2 * P)
    t1.munmap(range(2))
    assert (ab.usage_in_bytes, a.usage_in_bytes) == (3 * P, 3 * P)


def test_hierarchical_limits_in_stat():
    eng = small()
    eng.root.write("memory.limit_in_bytes", "2M")     # root does not use hierarchy: never counted
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    a.write("memory.limit_in_bytes", "8M")
    a.write("memory.memsw.limit_in_bytes", "12M")
    b = eng.mkdir("a/b")
    b.write("memory.limit_in_bytes", "16M")
    b.write("memory.memsw.limit_in_bytes", "16M")
    c = eng.mkdir("a/b/c")
    c.write("memory.limit_in_bytes", "4M")
    x = eng.mkdir("x")
    x.write("memory.limit_in_bytes", "1M")
    y = eng.mkdir("x/y")
    hl = lambda cg: (cg.stat()["hierarchical_memory_limit"], cg.stat()["hierarchical_memsw_limit"])
    assert hl(eng.root) == (2 << 20, UNLIMITED)
    assert hl(a) == (8 << 20, 12 << 20)
    assert hl(b) == (8 << 20, 12 << 20)
    assert hl(c) == (4 << 20, 12 << 20)
    assert hl(x) == (1 << 20, UNLIMITED)
    assert hl(y) == (UNLIMITED, UNLIMITED)            # x/y was created without hierarchy
    assert f"hierarchical_memory_limit {8 << 20}\n" in b.read("memory.stat")
    assert f"hierarchical_memsw_limit {12 << 20}\n" in b.read("memory.stat")


def test_total_stats_sum_the_subtree_only_under_hierarchy():
    eng = small()
    a = eng.mkdir("a")
    a.write("memory.use_hierarchy", "1")
    b = eng.mkdir("a/b")
    x = eng.mkdir("x")
    y = eng.mkdir("x/y")
    ta, tb, tx, ty = (eng.spawn(cg) for cg in (a, b, x, y))
    ta.fault(range(2))
    tb.fault(range(3))
    tb.mlock(range(10, 11))
    tb.munmap([0])
    tx.fault(range(4))
    ty.fault(range(5))
    assert a.stat() == stat_of(a, rss=2 * P, pgpgin=2, active_anon=2 * P,
                               total_rss=5 * P, total_pgpgin=6, total_pgpgout=1,
                               total_active_anon=4 * P, total_unevictable=1 * P)
    assert b.stat() == stat_of(b, rss=3 * P, pgpgin=4, pgpgout=1, active_anon=2 * P, unevictable=P,
                               total_rss=3 * P, total_pgpgin=4, total_pgpgout=1,
                               total_active_anon=2 * P, total_unevictable=P)
    assert x.stat() == stat_of(x, rss=4 * P, pgpgin=4, active_anon=4 * P,
                               total_rss=4 * P, total_pgpgin=4, total_active_anon=4 * P)
    root = eng.root.stat()
    assert (root["rss"], root["total_rss"], root["total_pgpgin"]) == (0, 0, 0)


# ---------------------------------------------------------------------------------------------
# swappiness
# ---------------------------------------------------------------------------------------------

def test_swappiness_rules(unchanged):
    eng = small()
    root = eng.root
    assert root.read("memory.swappiness") == "60\n"
    for val in ("60", "0", "101"):                    # never writable on the root
        with unchanged(eng), refused(errno.EINVAL):
            root.write("memory.swappiness", val)
    a = eng.mkdir("a")
    assert a.swappiness == 60
    for bad in ("101", "1000", "-1", "5k", "1.0", "k"):
        with unchanged(eng), refused(errno.EINVAL):
            a.write("memory.swappiness", bad)
    a.write("memory.swappiness", "100")
    assert a.read("memory.swappiness") == "100\n"
    a.write("memory.swappiness", "0")
    assert a.read("memory.swappiness") == "0\n"
    a.write("memory.swappiness", "036\n")             # octal 30
    assert a.read("memory.swappiness") == "30\n"
    a.write("memory.swappiness", "0x1e")
    assert a.swappiness == 30
    a.write("memory.swappiness", "18446744073709551646")   # 2**64 + 30 wraps to 30
    assert a.swappiness == 30
    a.write("memory.swappiness", " ")                 # one blank byte parses as 0
    assert a.swappiness == 0
    a.write("memory.swappiness", "30")
    b = eng.mkdir("a/b")
    assert b.read("memory.swappiness") == "30\n"      # inherited at creation
    a.write("memory.swappiness", "40")
    assert b.swappiness == 30                         # not propagated afterwards
    b.write("memory.swappiness", "20")
    c = eng.mkdir("a/b/c")
    assert c.swappiness == 20


def test_swappiness_under_hierarchy(unchanged):
    eng = small()
    h = eng.mkdir("h")
    h.write("memory.use_hierarchy", "1")
    h.write("memory.swappiness", "10")                # hierarchy top without children: allowed
    assert h.swappiness == 10
    k = eng.mkdir("h/k")
    assert k.swappiness == 10
    with unchanged(eng), refused(errno.EINVAL):       # the parent uses hierarchy
        k.write("memory.swappiness", "50")
    with unchanged(eng), refused(errno.EINVAL):       # uses hierarchy and has children
        h.write("memory.swappiness", "50")
    with unchanged(eng), refused(errno.EINVAL):       # > 100 is EINVAL whatever else holds
        k.write("memory.swappiness", "101")
    n = eng.mkdir("n")                                # no hierarchy: children do not matter
    eng.mkdir("n/m")
    n.write("memory.swappiness", "70")
    assert n.swappiness == 70


# ---------------------------------------------------------------------------------------------
# read-only files, unknown files, force_empty read, swap accounting off
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.stat"])
@pytest.mark.parametrize("value", ["0", "1M", ""])
def test_read_only_files_refuse_writes(name, value, unchanged):
    eng = small()
    cg = eng.mkdir("a")
    eng.spawn(cg).fault(range(2))
    with unchanged(eng), refused(errno.EINVAL):
        cg.write(name, value)


@pytest.mark.parametrize("name", ["memory.foo", "limit_in_bytes", "memory.limit_in_bytes ",
                                  "memory.soft_limit_in_bytes", "memory.oom_control",
                                  "memory.move_charge_at_immigrate", "memory.memsw.stat",
                                  "memory.memsw.swappiness", "cpu.shares", ""])
def test_unknown_files_are_enoent(name, unchanged):
    eng = small()
    cg = eng.mkdir("a")
    with unchanged(eng), refused(errno.ENOENT):
        cg.read(name)
    with unchanged(eng), refused(errno.ENOENT):
        cg.write(name, "1")


def test_force_empty_cannot_be_read(unchanged):
    eng = small()
    cg = eng.mkdir("a")
    with unchanged(eng), refused(errno.EINVAL):
        cg.read("memory.force_empty")


def test_without_swap_accounting_memsw_files_do_not_exist(unchanged):
    eng = small(swap_account=False)
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(3))
    for f in MEMSW_FILES:
        with unchanged(eng), refused(errno.ENOENT):
            cg.read(f)
        with unchanged(eng), refused(errno.ENOENT):
            cg.write(f, "1M")
    for attr in ("memsw_limit_in_bytes", "memsw_usage_in_bytes", "memsw_max_usage_in_bytes",
                 "memsw_failcnt"):
        with refused(errno.ENOENT):
            getattr(cg, attr)
    st = cg.stat()
    assert "hierarchical_memsw_limit" not in st
    assert list(st) == [k for k in STAT_KEYS if k != "hierarchical_memsw_limit"]
    assert "hierarchical_memsw_limit" not in cg.read("memory.stat")
    assert st["rss"] == 3 * P and st["hierarchical_memory_limit"] == UNLIMITED
    cg.write("memory.limit_in_bytes", "1M")           # the memory files still work
    assert cg.read("memory.limit_in_bytes") == "1048576\n"
    assert cg.read("memory.usage_in_bytes") == f"{3 * P}\n"


# ---------------------------------------------------------------------------------------------
# force_empty and rmdir
# ---------------------------------------------------------------------------------------------

def test_force_empty_and_rmdir_refused_with_tasks_or_children(unchanged):
    eng = small(swap="0")
    a = eng.mkdir("a")
    t = eng.spawn(a)
    with unchanged(eng), refused(errno.EBUSY):        # a task, even with nothing charged
        a.force_empty()
    with unchanged(eng), refused(errno.EBUSY):
        a.write("memory.force_empty", "0")
    with unchanged(eng), refused(errno.EBUSY):
        a.rmdir()
    t.fault(range(4))
    with unchanged(eng), refused(errno.EBUSY):
        a.force_empty()
    with unchanged(eng), refused(errno.EBUSY):
        a.rmdir()
    t.move(eng.root)
    eng.mkdir("a/b")
    with unchanged(eng), refused(errno.EBUSY):        # a child cgroup
        a.force_empty()
    with unchanged(eng), refused(errno.EBUSY):
        a.rmdir()
    assert eng.cgroup("a") is a
    assert a.usage_in_bytes == 4 * P


def test_force_empty_moves_charges_to_non_hierarchical_parent():
    eng = small(swap="0")
    p = eng.mkdir("p")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(8))
    t.mlock(range(8, 10))
    t.move(eng.root)                                  # charges stay behind in c
    assert c.tasks == [] and eng.root.tasks == [t]
    assert c.usage_in_bytes == 10 * P
    c.write("memory.force_empty", "1")
    assert (c.usage_in_bytes, c.memsw_usage_in_bytes) == (0, 0)
    assert c.max_usage_in_bytes == 10 * P
    assert c.stat() == stat_of(c, pgpgin=10, pgpgout=10, total_pgpgin=10, total_pgpgout=10)
    assert (p.usage_in_bytes, p.memsw_usage_in_bytes, p.max_usage_in_bytes) == (10 * P, 10 * P, 10 * P)
    # force_empty reclaims first: with no swap that only ages the pages onto the inactive list
    assert p.stat() == stat_of(p, rss=10 * P, pgpgin=10, inactive_anon=8 * P, unevictable=2 * P,
                               total_rss=10 * P, total_pgpgin=10, total_inactive_anon=8 * P,
                               total_unevictable=2 * P)
    assert eng.root.usage_in_bytes == 0
    # the pages now belong to p: their last unmap uncharges p
    t.exit()
    assert p.usage_in_bytes == 0
    assert p.stat()["pgpgout"] == 10 and p.stat()["rss"] == 0
    c.force_empty()                                   # empty: nothing to do
    assert c.stat()["pgpgout"] == 10


def test_force_empty_under_hierarchy_keeps_parent_usage():
    eng = small(swap="0")
    p = eng.mkdir("p")
    p.write("memory.use_hierarchy", "1")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(6))
    t.move(p)
    c.force_empty()
    assert c.usage_in_bytes == 0
    assert c.stat()["pgpgout"] == 6 and c.stat()["rss"] == 0
    assert p.usage_in_bytes == 6 * P                  # unchanged: the child was part of it
    # each move charges the parent first, then uncharges child and parent: one page above
    assert p.max_usage_in_bytes == 7 * P
    assert p.memsw_max_usage_in_bytes == 7 * P
    assert p.stat() == stat_of(p, rss=6 * P, pgpgin=6, inactive_anon=6 * P,
                               total_rss=6 * P, total_pgpgin=12, total_pgpgout=6,
                               total_inactive_anon=6 * P)


def test_rmdir_moves_charges_to_parent():
    eng = small()
    p = eng.mkdir("p")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(6))
    t.move(eng.root)
    c.rmdir()
    assert (p.usage_in_bytes, p.memsw_usage_in_bytes) == (6 * P, 6 * P)
    assert p.stat() == stat_of(p, rss=6 * P, pgpgin=6, active_anon=6 * P,
                               total_rss=6 * P, total_pgpgin=6, total_active_anon=6 * P)
    assert eng.root.usage_in_bytes == 0
    t.fault(range(6, 8))                              # t now charges the root
    assert eng.root.usage_in_bytes == 2 * P
    t.exit()
    assert p.usage_in_bytes == 0 and eng.root.usage_in_bytes == 0
    assert p.stat()["pgpgout"] == 6


def test_rmdir_under_hierarchy_keeps_parent_usage():
    eng = small()
    p = eng.mkdir("p")
    p.write("memory.use_hierarchy", "1")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(6))
    t.move(p)
    c.rmdir()
    assert p.usage_in_bytes == 6 * P
    assert p.max_usage_in_bytes == 7 * P
    assert p.stat() == stat_of(p, rss=6 * P, pgpgin=6, active_anon=6 * P,
                               total_rss=6 * P, total_pgpgin=6, total_active_anon=6 * P)
    t.munmap(range(6))
    assert p.usage_in_bytes == 0


def test_moving_to_a_hierarchical_parent_at_its_limit_fails():
    """mem_cgroup_move_parent charges the parent before uncharging the child, so a parent at its
    limit refuses even though the net change is zero: -ENOMEM, reclaim frees nothing, EBUSY.
    force_empty (free_all) tries once: 6 failed charges; rmdir tries twice: 12."""
    eng = small(swap="0")
    p = eng.mkdir("p")
    p.write("memory.use_hierarchy", "1")
    p.write("memory.limit_in_bytes", "24k")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    assert t.fault(range(6)) == 6
    t.move(eng.root)
    with refused(errno.EBUSY):
        c.force_empty()
    assert p.failcnt == 6
    assert (c.usage_in_bytes, p.usage_in_bytes) == (6 * P, 6 * P)
    assert c.stat()["pgpgout"] == 0 and p.stat()["pgpgin"] == 0
    with refused(errno.EBUSY):
        c.rmdir()
    assert p.failcnt == 18
    assert eng.cgroup("p/c") is c
    assert (c.usage_in_bytes, p.usage_in_bytes) == (6 * P, 6 * P)
    p.write("memory.limit_in_bytes", "28k")
    c.rmdir()
    assert p.usage_in_bytes == 6 * P and p.max_usage_in_bytes == 7 * P
    assert p.stat()["rss"] == 6 * P


def test_moving_to_a_non_hierarchical_parent_stops_at_its_limit():
    """Pages move one by one until the parent's limit refuses; what moved stays moved."""
    eng = small(swap="0")
    p = eng.mkdir("p")
    p.write("memory.limit_in_bytes", "16k")
    c = eng.mkdir("p/c")
    t = eng.spawn(c)
    t.fault(range(10))
    t.move(eng.root)
    with refused(errno.EBUSY):
        c.rmdir()
    assert eng.cgroup("p/c") is c
    assert (c.usage_in_bytes, p.usage_in_bytes) == (6 * P, 4 * P)
    assert p.failcnt == 12
    assert c.stat()["pgpgout"] == 4 and c.stat()["rss"] == 6 * P
    assert p.stat()["pgpgin"] == 4 and p.stat()["rss"] == 4 * P
    t.exit()
    assert (c.usage_in_bytes, p.usage_in_bytes) == (0, 0)
    c.rmdir()


def test_rmdir_of_root_is_ebusy(unchanged):
    eng = small()
    with unchanged(eng), refused(errno.EBUSY):
        eng.root.rmdir()
    assert eng.cgroup("/") is eng.root


def test_removed_cgroup_is_gone(unchanged):
    eng = small()
    a = eng.mkdir("a")
    t = eng.spawn(eng.root)
    a.rmdir()
    with refused(errno.ENOENT):
        eng.cgroup("a")
    with refused(errno.ENOENT):
        eng.cgroup("/a")
    with unchanged(eng):
        for f in COUNTER_FILES + ["memory.stat", "memory.use_hierarchy", "memory.swappiness"]:
            with refused(errno.ENOENT):
                a.read(f)
        for f in ("memory.limit_in_bytes", "memory.swappiness", "memory.use_hierarchy",
                  "memory.failcnt", "memory.force_empty"):
            with refused(errno.ENOENT):
                a.write(f, "1")
        with refused(errno.ENOENT):
            a.limit_in_bytes
        with refused(errno.ENOENT):
            a.stat()
        with refused(errno.ENOENT):
            a.force_empty()
        with refused(errno.ENOENT):
            a.rmdir()
        with refused(errno.ENOENT):
            a.tasks
        with refused(errno.ENOENT):
            eng.spawn(a)
        with refused(errno.ENOENT):
            eng.spawn("a")
        with refused(errno.ENOENT):
            t.move(a)
        with refused(errno.ENOENT):
            t.move("a")
        with refused(errno.ENOENT):
            eng.mkdir("a/b")
    assert t.cgroup is eng.root


def test_mkdir_errors_and_recreate(unchanged):
    eng = small()
    a = eng.mkdir("a")
    with unchanged(eng), refused(errno.EEXIST):
        eng.mkdir("a")
    with unchanged(eng), refused(errno.EEXIST):
        eng.mkdir("/a/")
    with unchanged(eng), refused(errno.ENOENT):
        eng.mkdir("missing/b")
    with unchanged(eng), refused(errno.ENOENT):
        eng.mkdir("a/missing/b")
    a.write("memory.limit_in_bytes", "1M")
    a.write("memory.swappiness", "5")
    t = eng.spawn(a)
    t.fault(range(3))
    t.exit()
    a.rmdir()
    a2 = eng.mkdir("a")
    assert eng.cgroup("a") is a2
    assert a2.read("memory.limit_in_bytes") == "9223372036854775807\n"
    assert a2.read("memory.swappiness") == "60\n"
    assert a2.read("memory.max_usage_in_bytes") == "0\n"
    assert a2.stat() == stat_of(a2)
    with refused(errno.ENOENT):                       # the old handle stays dead
        a.read("memory.usage_in_bytes")
    t2 = eng.spawn(a2)
    t2.fault(range(2))
    assert a2.usage_in_bytes == 2 * P
    assert a2.tasks == [t2]


def test_move_leaves_charges_behind():
    eng = small()
    a = eng.mkdir("a")
    b = eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(4))
    t.move(b)
    assert a.tasks == [] and b.tasks == [t] and t.cgroup is b
    assert (a.usage_in_bytes, b.usage_in_bytes) == (4 * P, 0)
    t.fault(range(4, 6))
    assert (a.usage_in_bytes, b.usage_in_bytes) == (4 * P, 2 * P)
    t.munmap(range(6))
    assert (a.usage_in_bytes, b.usage_in_bytes) == (0, 0)
    assert a.stat()["pgpgout"] == 4 and b.stat()["pgpgout"] == 2
    a.rmdir()
