"""`pymemcg demo`: a small tour of the engine (memcg accounting, fork/COW, OOM)."""
from . import Engine, PAGE_SIZE


def _mb(b):
    return f"{b / 2**20:.1f}M"


def run_demo(args=None):
    eng = Engine(ram="256M", swap="256M")
    cg = eng.mkdir("demo")
    cg.write("memory.limit_in_bytes", "8M")
    parent = eng.spawn(cg)
    parent.fault(range(1024))
    child = parent.fork()
    child.fault(range(256), write=True)
    print(f"cgroup {cg.path}: limit {_mb(cg.limit_in_bytes)}, usage {_mb(cg.usage_in_bytes)} "
          f"after a 4M task forked and its child wrote 1M (COW copies: {eng.counters()['cow_faults']})")
    hog = eng.spawn(cg)
    touched = hog.fault(range(4096))
    print(f"a 16M task touched {touched} pages ({_mb(touched * PAGE_SIZE)}) before the memcg OOM killer chose "
          f"{'it' if hog.oom_killed else 'another task'}: failcnt {cg.failcnt}, oom_kills {eng.counters()['oom_kills']}")
    for t in list(cg.tasks):
        t.exit()
    stat = cg.stat()
    print(f"after every task exited: usage {cg.usage_in_bytes}, pgpgin {stat['pgpgin']}, pgpgout {stat['pgpgout']}")
    eng.check()
    print("invariants hold")
    return 0
