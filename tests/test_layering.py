"""The house has floors: an app imports only apps on its own floor or below.

    cardportal  (shared helpers, the port onto the access door)
    members     (the union tree, staff roles, the access door, the registry; members/sms)
    issuance    (cards, batches, bank files)
    merchants   (merchants and offers; reads issuance's live-card rule)
    benefits    (programmes, aid payments; benefits/membersite, the members' site: its demo reads
                 the merchants' demo)
    quotas      (league tables: counts merchants' service items and benefits' programmes)

Every import statement of every module counts, those inside functions too (a lazy import is an
arrow all the same). Apps mounted by name (the root URLconf, the demo loader) are not imports.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLOORS = ["cardportal", "members", "issuance", "merchants", "benefits", "quotas"]
LEVEL = {app: floor for floor, app in enumerate(FLOORS)}


def _modules():
    for app in FLOORS:
        for path in sorted((ROOT / app).rglob("*.py")):
            yield app, path


def _imported(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _violations(app: str, path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for line, module in _imported(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        top = module.split(".")[0]
        if top in LEVEL and LEVEL[top] > LEVEL[app]:
            found.append(f"{path.relative_to(root)}:{line} imports {module} ({app} is below {top})")
        if top == "cardportal" and module == "cardportal.scoping" and app != "cardportal":
            found.append(
                f"{path.relative_to(root)}:{line} imports cardportal.scoping: the port is for "
                "cardportal itself; apps ask members.access"
            )
    return found


def test_no_module_imports_an_app_above_its_own():
    violations = [v for app, path in _modules() for v in _violations(app, path)]
    assert violations == []


@pytest.mark.parametrize(
    ("app", "source", "expected"),
    [
        ("cardportal", "def f():\n    from members.models import Union\n", 1),
        ("members", "import issuance.models\n", 1),
        ("issuance", "from quotas import selectors\n", 1),
        ("benefits", "from cardportal.scoping import scope_path\n", 1),
        ("quotas", "from benefits.models import Claim\nfrom members.access import Cap\n", 0),
        ("cardportal", "from .scoping import can\n", 0),
    ],
)
def test_the_check_sees_lazy_and_plain_imports(tmp_path, app, source, expected):
    module = tmp_path / app / "module.py"
    module.parent.mkdir()
    module.write_text(source, encoding="utf-8")
    assert len(_violations(app, module, root=tmp_path)) == expected


# Which database is this? Only cardportal/bulk.py asks (`is_postgresql`, `execute_for_database`);
# settings and the backup tool read the configured ENGINE, not a connection.
VENDOR_ASKERS = {"cardportal/bulk.py"}


def _vendor_reads(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno} reads .vendor: ask cardportal.bulk.is_postgresql()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "vendor"
    ]


def test_only_the_bulk_module_asks_which_database_this_is():
    reads = [
        v
        for _app, path in _modules()
        if str(path.relative_to(ROOT)) not in VENDOR_ASKERS
        for v in _vendor_reads(path)
    ]
    assert reads == []


def test_the_vendor_check_sees_a_schema_editor_branch(tmp_path):
    module = tmp_path / "indexes.py"
    module.write_text('def f(schema_editor):\n    return schema_editor.connection.vendor == "postgresql"\n')
    assert _vendor_reads(module, root=tmp_path) == [
        "indexes.py:2 reads .vendor: ask cardportal.bulk.is_postgresql()"
    ]
