#!/usr/bin/env python3
"""Finds import circles between the modules of a Rust crate.

    scripts/module_cycles.py DIR...   e.g. scripts/module_cycles.py src app/src server/src

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`). It depends on every module it names
through `crate::...` or `super::...` outside its `#[cfg(test)] mod tests`. Prints each circle and
exits 1 if there is one, so `make test` keeps the layering one-way (docs/ARCHITECTURE.md).
"""

import os
import re
import sys


def module_of(root, path):
    parts = os.path.relpath(path, root)[: -len(".rs")].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def dependencies(root):
    edges = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            module = module_of(root, path)
            with open(path, encoding="utf-8") as f:
                text = re.split(r"#\[cfg\(test\)\]\s*mod tests", f.read())[0]
            named = set(re.findall(r"crate::([a-z_]+(?:::[a-z_]+)*)", text))
            parent = module[:-1]
            named |= {"::".join(parent + [m]) for m in re.findall(r"\bsuper::([a-z_]+)", text)}
            edges["::".join(module)] = named
    modules = set(edges)

    def resolve(path):
        parts = path.split("::")
        for i in range(len(parts), 0, -1):
            if "::".join(parts[:i]) in modules:
                return "::".join(parts[:i])
        return None

    return {m: {d for d in map(resolve, named) if d and d != m} for m, named in edges.items()}


def circles(graph):
    found = set()

    def walk(node, stack):
        for dep in sorted(graph.get(node, ())):
            if dep in stack:
                found.add(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif len(stack) < 12:
                walk(dep, stack + [dep])

    for start in sorted(graph):
        walk(start, [start])
    return sorted(found)


def main():
    failed = False
    for root in sys.argv[1:] or ["."]:
        for circle in circles(dependencies(root)):
            failed = True
            print(f"{root}: import circle: {circle}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
