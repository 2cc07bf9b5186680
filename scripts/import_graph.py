"""The package import graph of myapi/ and batch/, from grimp (import-linter's graph).

    .venv/bin/python -m scripts.import_graph [--with-adapters]

One line per package: `package -> the packages it imports`, then the cycle groups
(strongly connected components). By default the HTTP adapter layer (routers, the
`deps` modules, auth guards, /internal, the app and the container) is left out: that
is the graph the `no-package-cycles` contract keeps acyclic. Imports made only for type
checking are not counted (they are not dependencies at run time).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import grimp

ADAPTER_LEAVES = frozenset({"router", "deps", "guards"})
ADAPTER_MODULES = frozenset({"myapi.main", "myapi.container", "myapi.deps"})


def is_adapter(module: str) -> bool:
    return (
        module.rsplit(".", 1)[-1] in ADAPTER_LEAVES
        or module in ADAPTER_MODULES
        or module.startswith("myapi.internal")
    )


def package_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "batch":
        return "batch"
    depth = 3 if len(parts) >= 3 and parts[1] == "providers" else 2
    return ".".join(parts[:depth])


def package_graph(with_adapters: bool) -> dict[str, set[str]]:
    graph = grimp.build_graph("myapi", "batch", exclude_type_checking_imports=True)
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        if not with_adapters and is_adapter(module):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if not with_adapters and is_adapter(imported):
                continue
            source, target = package_of(module), package_of(imported)
            if source != target:
                edges[source].add(target)
    return edges


def cycle_groups(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one package."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    nodes = set(edges) | {t for targets in edges.values() for t in targets}
    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.import_graph", description=__doc__)
    parser.add_argument("--with-adapters", action="store_true", help="include routers, deps, the app")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(10_000)
    edges = package_graph(args.with_adapters)
    for source in sorted(edges):
        print(f"{source} -> {', '.join(sorted(edges[source]))}")
    groups = cycle_groups(edges)
    print("cycle groups:", groups or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
