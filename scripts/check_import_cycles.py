"""Fail when a module of ``aworld_server`` imports itself through others (an import cycle).

The layers contract (pyproject, ``lint-imports``) keeps packages in one direction; this keeps
modules inside a package acyclic too. TYPE_CHECKING imports count, as they do there."""

from __future__ import annotations

import sys

import grimp


def cycles(package: str) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    graph = grimp.build_graph(package, include_external_packages=False)
    imports = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            module, i = work.pop()
            if i == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            targets = imports[module]
            if i < len(targets):
                work.append((module, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
    return found


if __name__ == "__main__":
    groups = cycles(sys.argv[1] if len(sys.argv) > 1 else "aworld_server")
    for group in groups:
        print("import cycle:", " <-> ".join(group))
    print(f"{len(groups)} import cycle(s)")
    sys.exit(1 if groups else 0)
