"""Every document a docstring or a comment cites is in the repository (docs/DESIGN.md, "Layout")."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"(?<![\w/.-])((?:docs/)?[A-Z][A-Z_-]*\.md)\b")


def test_every_cited_document_exists():
    missing = []
    for folder in ("src", "benchmarks", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line_number, line in enumerate(path.read_text().splitlines(), 1):
                for name in CITED.findall(line):
                    target = ROOT / name if name.startswith("docs/") else ROOT / name
                    if not target.exists() and not (ROOT / "docs" / name).exists():
                        missing.append(f"{path.relative_to(ROOT)}:{line_number}: {name}")
    assert not missing, "cited documents not in the repository:\n" + "\n".join(missing)


BENCHMARK_MODULE = re.compile(r"python3?\s+-m\s+(benchmarks(?:\.[A-Za-z_][\w]*)+)")
BENCHMARK_PATH = re.compile(r"(?<![\w/.-])(benchmarks/[\w/]+\.py)\b")
BENCHMARK_SCRIPT = re.compile(r"python3?\s+(benchmarks/[\w/]+\.py)\b")


def _documents():
    yield ROOT / "README.md"
    for pattern in ("docs/**/*.md", "docs/**/*.json"):
        yield from sorted(ROOT.glob(pattern))
    for folder in ("src", "benchmarks", "tests"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_every_benchmark_command_names_a_module_that_exists():
    """A command in a document or docstring runs a benchmark as a module (``python -m
    benchmarks.speed.throughput``) that exists; a path names a file that exists; no command runs
    a script by its path (the scripts import ``benchmarks.common``: they run as modules)."""
    wrong = []
    for path in _documents():
        text = path.read_text()
        where = path.relative_to(ROOT)
        for module in BENCHMARK_MODULE.findall(text):
            if not (ROOT / (module.replace(".", "/") + ".py")).is_file():
                wrong.append(f"{where}: python -m {module} (no such module)")
        for name in BENCHMARK_PATH.findall(text):
            if not (ROOT / name).is_file():
                wrong.append(f"{where}: {name} (no such file)")
        for name in BENCHMARK_SCRIPT.findall(text):
            wrong.append(f"{where}: python {name} (run it as a module: python -m {name[:-3].replace('/', '.')})")
    assert not wrong, "benchmark commands that do not run:\n" + "\n".join(wrong)
