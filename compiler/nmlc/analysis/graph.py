"""Small directed-graph helpers (strongly and weakly connected components) over hashable nodes."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def strongly_connected_components(nodes: Sequence[N], successors: Mapping[N, Iterable[N]]) -> list[list[N]]:
    """Tarjan's algorithm, iterative so that long chains cannot hit the recursion limit.

    Returns the components in reverse topological order of the condensation (a component comes before
    every component that can reach it), each component listed in the order of ``nodes``.
    """
    position = {node: k for k, node in enumerate(nodes)}
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    result: list[list[N]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(successors.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in position:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors.get(child, ()))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component, key=position.__getitem__))
    return result


def weakly_connected_components(nodes: Sequence[N], successors: Mapping[N, Iterable[N]]) -> list[list[N]]:
    """Components of the undirected version of the graph, in order of their first node in ``nodes``."""
    position = {node: k for k, node in enumerate(nodes)}
    neighbours: dict[N, set[N]] = {node: set() for node in nodes}
    for node in nodes:
        for child in successors.get(node, ()):
            if child in position and child != node:
                neighbours[node].add(child)
                neighbours[child].add(node)
    seen: set[N] = set()
    components = []
    for node in nodes:
        if node in seen:
            continue
        seen.add(node)
        frontier = [node]
        component = []
        while frontier:
            current = frontier.pop()
            component.append(current)
            for other in neighbours[current]:
                if other not in seen:
                    seen.add(other)
                    frontier.append(other)
        components.append(sorted(component, key=position.__getitem__))
    return components


def reachable(start: N, successors: Mapping[N, Iterable[N]]) -> set[N]:
    """All nodes reachable from ``start`` (including ``start`` itself)."""
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for child in successors.get(node, ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen
