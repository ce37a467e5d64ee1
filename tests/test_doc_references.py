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
