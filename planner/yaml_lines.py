"""YAML read with the safe loader into plain data and a map from each field's path to its line,
so every error can name the line. The node graph is bounded (nesting, values after aliases are
expanded) before anything is built from it, and duplicate keys and lone surrogates are refused.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ScenarioError

MAX_DEPTH = 64            # a scenario is a few levels deep; deeper is a mistake (or an attack)
MAX_VALUES = 1_000_000    # values after YAML aliases are expanded (an alias bomb expands to billions)


def read_yaml(text: str, file: str | None) -> tuple[Any, dict[tuple, int]]:
    """Parse with the safe loader; return the data and a map field-path -> line (1-based).
    The node graph is measured before anything is built from it: nesting and the size it
    expands to through aliases are bounded."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ScenarioError(f"nested more than {MAX_DEPTH} levels deep; a scenario is a few levels of "
                                "mappings and lists", file) from None
        if node is not None:
            _check_size(node, file)
        data = loader.construct_document(node) if node is not None else None
    except yaml.constructor.ConstructorError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        tag = getattr(e, "problem", "") or ""
        raise ScenarioError(f"{tag}; scenario files are plain data (no tags such as !!python/...)",
                            file, line) from None
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        raise ScenarioError(f"not valid YAML: character #x{e.character:04x} is not allowed (is this a text file?)",
                            file, line) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"not valid YAML: {problem}", file, line) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines, file)
    return data, lines


def _check_size(root, file) -> None:
    """Reject node graphs nested deeper than MAX_DEPTH or expanding (aliases repeated) to more
    than MAX_VALUES values, without expanding them: sizes are summed once per shared node."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        kids = _children(node)
        if not done:
            if id(node) in size:
                continue
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
            if len(stack) > 10 * MAX_VALUES:
                break
            continue
        size[id(node)] = 1 + sum(size.get(id(k), 1) for k in kids)
        depth[id(node)] = 1 + max((depth.get(id(k), 1) for k in kids), default=0)
        line = node.start_mark.line + 1
        if depth[id(node)] > MAX_DEPTH:
            raise ScenarioError(f"nested more than {MAX_DEPTH} levels deep; a scenario is a few levels of mappings "
                                "and lists", file, line)
        if size[id(node)] > MAX_VALUES:
            raise ScenarioError(f"expands to more than {MAX_VALUES:,} values through YAML aliases (*name); write "
                                "the values out, or use fewer aliases", file, line)


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _walk(node, path: tuple, lines: dict, file) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and any("\ud800" <= ch <= "\udfff" for ch in node.value):
        raise ScenarioError("a string holds an invalid character (a lone surrogate such as \\ud800); write the "
                            "text itself", file, node.start_mark.line + 1, fmt_path(path) or None)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            key = k.value
            if key in seen:
                raise ScenarioError(f"key '{key}' appears twice (also on line {seen[key]}); keep one",
                                    file, k.start_mark.line + 1, fmt_path(path) or None)
            seen[key] = k.start_mark.line + 1
            lines[path + (key,)] = k.start_mark.line + 1
            _walk(v, path + (key,), lines, file)
            lines[path + (key,)] = k.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), lines, file)


def fmt_path(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
