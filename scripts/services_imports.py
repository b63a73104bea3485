"""One-off codemod (issue 12): callers import issuance's and benefits' services from the module
that defines each name, not through the package (`issuance/services/__init__.py` re-exports
nothing). Rerun it after merging a branch that still writes `from issuance.services import X`,
`from benefits import services` + `services.X`, or the relative spellings:

    .venv/bin/python scripts/services_imports.py . && ruff check --fix . && ruff format .

Where a caller defines a name of its own equal to a service (a view `import_retry` calling
`services.import_retry`), it imports the modules instead (`bankfiles.import_retry`). Files it
cannot rewrite safely (the package bound or patched as a whole) are printed, left alone.
"""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
PACKAGES = {"issuance.services": ROOT / "issuance/services", "benefits.services": ROOT / "benefits/services"}
SKIP = (
    "benefits/drops/",
    ".venv/",
    "issuance/services/",
    "benefits/services/",
    "scripts/services_imports.py",
)


class Refused(Exception):
    pass


def definitions(package: Path) -> dict[str, str]:
    """{public name: submodule} from the submodules' top-level def, class and assignment; a name
    only imported into a submodule counts where no submodule defines it."""
    defined, imported = {}, {}
    for sub in sorted(package.glob("*.py")):
        if sub.name == "__init__.py":
            continue
        for node in ast.parse(sub.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.setdefault(node.name, sub.stem)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        defined.setdefault(target.id, sub.stem)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    imported.setdefault(alias.asname or alias.name, sub.stem)
    return {**imported, **defined}


MAPS = {name: definitions(path) for name, path in PACKAGES.items()}


def absolute(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = parts[: len(parts) - node.level]
    return ".".join(parts + ([node.module] if node.module else []))


def _indent(lines: list[str], node: ast.AST) -> str:
    return re.match(r"\s*", lines[node.lineno - 1]).group(0)


def _from_lines(indent: str, spelled: str, by_module: dict[str, list[str]]) -> str:
    return "".join(
        f"{indent}from {spelled}.{sub} import {', '.join(names)}\n"
        for sub, names in sorted(by_module.items())
    )


def direct_edits(tree: ast.AST, path: Path, lines: list[str]) -> list[tuple[int, int, str]]:
    """`from issuance.services import a, b` → one import per defining module."""
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or absolute(node, path) not in MAPS:
            continue
        names = MAPS[absolute(node, path)]
        by_module: dict[str, list[str]] = {}
        submodules = [a for a in node.names if (PACKAGES[absolute(node, path)] / f"{a.name}.py").exists()]
        if len(submodules) == len(node.names):
            continue  # `from issuance.services import bankfiles`: already a module
        for alias in (a for a in node.names if a not in submodules):
            if alias.name not in names:
                raise Refused(f"{alias.name} is not defined in {absolute(node, path)}")
            by_module.setdefault(names[alias.name], []).append(
                alias.name + (f" as {alias.asname}" if alias.asname else "")
            )
        spelled = "." * node.level + (node.module or "")
        text = _from_lines(_indent(lines, node), spelled, by_module)
        if submodules:
            kept = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in submodules)
            text = f"{_indent(lines, node)}from {spelled} import {kept}\n" + text
        edits.append((node.lineno, node.end_lineno, text))
    return edits


def package_imports(tree: ast.AST, path: Path) -> list[tuple[str, str, ast.ImportFrom, ast.alias]]:
    """Every `from issuance import services` (lazy ones repeat per function): (local, package, node, alias)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                full = f"{absolute(node, path)}.{alias.name}"
                if full in MAPS:
                    found.append((alias.asname or alias.name, full, node, alias))
    return found


def attribute_uses(tree: ast.AST, packages: dict[str, str]) -> list[ast.Attribute]:
    uses = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in packages
    ]
    bases = {id(n.value) for n in uses}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and n.id in packages and id(n) not in bases:
            raise Refused(f"line {n.lineno}: {n.id} used as a whole (bound, passed or patched)")
    for n in uses:
        if n.attr not in MAPS[packages[n.value.id]]:
            raise Refused(f"line {n.lineno}: {n.attr} is not defined in {packages[n.value.id]}")
    return uses


def names_in(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names | {
        a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs
    }


def package_edits(tree: ast.AST, path: Path, lines: list[str]) -> list[tuple[int, int, str]]:
    """`services.X` → `X` imported from its module, or `<module>.X` where X names something here."""
    imports = package_imports(tree, path)
    packages = {local: package for local, package, _node, _alias in imports}
    if not packages:
        return []
    uses = attribute_uses(tree, packages)
    here = names_in(tree)
    clashing = {n.value.id for n in uses if n.attr in here}

    def module_name(package: str, attr: str) -> str:
        sub = MAPS[package][attr]
        return f"{sub}_services" if sub in here else sub

    for n in sorted(uses, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        local = n.value.id
        text = f"{module_name(packages[local], n.attr)}.{n.attr}" if local in clashing else n.attr
        raw = lines[n.lineno - 1].encode()  # ast offsets count UTF-8 bytes
        lines[n.lineno - 1] = (raw[: n.col_offset] + text.encode() + raw[n.end_col_offset :]).decode()
    edits = []
    for local, package, node, alias in imports:
        by_module: dict[str, list[str]] = {}
        for attr in sorted({n.attr for n in uses if n.value.id == local}):
            by_module.setdefault(MAPS[package][attr], []).append(attr)
        spelled = "." * node.level + (f"{node.module}." if node.module else "") + alias.name
        indent = _indent(lines, node)
        if local in clashing:
            mods = [
                m if module_name(package, by_module[m][0]) == m else f"{m} as {m}_services"
                for m in sorted(by_module)
            ]
            text = f"{indent}from {spelled} import {', '.join(mods)}\n" if mods else ""
        else:
            text = _from_lines(indent, spelled, by_module)
        others = [a.name + (f" as {a.asname}" if a.asname else "") for a in node.names if a is not alias]
        if others:
            text = f"{indent}from {'.' * node.level}{node.module or ''} import {', '.join(others)}\n" + text
        edits.append((node.lineno, node.end_lineno, text))
    return edits


def rewrite(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    edits = direct_edits(tree, path, lines) + package_edits(tree, path, lines)
    for start, end, text in sorted(edits, reverse=True):
        lines[start - 1 : end] = [text]
    if edits:
        path.write_text("".join(lines), encoding="utf-8")
    return bool(edits)


def main() -> None:
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if any(part in rel for part in SKIP):
            continue
        try:
            if rewrite(path):
                print(rel)
        except Refused as why:
            print(f"{rel}: left alone, {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
