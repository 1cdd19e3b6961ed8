"""docs/security.md's "Web" table gives each hostile-input table's number of rows;
here each number is checked against the list it names."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).parent
DOC = TESTS.parents[2] / "docs" / "security.md"
# | area | `module.TABLE` | rows | ...
_ROW = re.compile(r"^\| [^|]+ \| `(test_\w+)\.([A-Z_]+)` \| (\d+) \|", re.MULTILINE)


def _web_section() -> str:
    text = DOC.read_text("utf-8")
    return text.split("\n## Web\n", 1)[1].split("\n## ", 1)[0]


def _load(name: str) -> ModuleType:
    # Test modules are imported in importlib mode, never as a package: load by path.
    spec = importlib.util.spec_from_file_location(f"security_doc_{name}", TESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROWS = _ROW.findall(_web_section())


def test_the_doc_names_the_tables() -> None:
    assert len(ROWS) >= 15


@pytest.mark.parametrize(("module", "table", "rows"), ROWS, ids=[f"{m}.{t}" for m, t, _ in ROWS])
def test_the_doc_counts_each_tables_rows(module: str, table: str, rows: str) -> None:
    assert len(getattr(_load(module), table)) == int(rows)
