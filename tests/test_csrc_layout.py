"""The layout rule of docs/architecture.md ("Files"): a csrc file either mirrors the kernel, and
its header comment names the kernel source it follows, or is one of the simulator's own files,
which name none; and the code cites the project's own docs, never documents outside it."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
OWN = {"engine.c", "step.c", "replay.c", "explicit.c", "state_hash.c", "snapshot.c", "audit.c", "leaks.c",
       "strategy.c", "engine.h", "replay.h", "snapshot.h", "hookpoints.h", "pymemcg.h"}
KERNEL_PATH = re.compile(r"\b(?:mm|kernel|include/linux|block)/[\w.-]+")


def header(path):
    text = path.read_text()
    assert text.startswith("/*"), f"{path.name} has no header comment"
    return text[:text.index("*/")]


def test_every_kernel_mirror_names_its_kernel_source_and_the_rest_are_the_simulators():
    files = sorted(p for p in CSRC.iterdir() if p.suffix in (".c", ".h"))
    assert OWN <= {p.name for p in files}
    for p in files:
        names = KERNEL_PATH.findall(header(p))
        if p.name in OWN:
            assert not names, f"{p.name} is the simulator's own but names {names}"
        else:
            assert names, f"{p.name} mirrors the kernel: its header comment must name the kernel source"


def test_the_architecture_doc_lists_every_csrc_file():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for p in CSRC.iterdir():
        if p.suffix == ".c":
            assert f"{p.name}" in doc, p.name


def test_the_code_cites_only_the_projects_own_docs():
    for d in ("csrc", "pymemcg", "tests", "benchmarks"):
        for p in sorted((ROOT / d).rglob("*")):
            # these two tests name what they forbid
            if p.suffix not in (".c", ".h", ".py") or p.name in ("test_csrc_layout.py", "test_package.py"):
                continue
            text = p.read_text()
            for bad in ("§", "kernel-semantics", "DESIGN.md", "API.md"):
                assert bad not in text, f"{p.relative_to(ROOT)} cites {bad!r}, outside the project"
