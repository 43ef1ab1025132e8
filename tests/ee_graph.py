"""Readable trees of serialized Earth Engine expressions, for graph assertions in tests."""

from __future__ import annotations

import json
from typing import Any


def graph(obj: Any) -> Any:
    """The cloud-API serialization of ``obj`` (an ee object, or its serialized dict) as a nested tree
    ``{"fn", "args"}`` with constants inlined."""
    doc = obj if isinstance(obj, dict) else json.loads(obj.serialize(for_cloud_api=True))
    values = doc["values"]

    def res(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if "valueReference" in node:
            return res(values[node["valueReference"]])
        if "constantValue" in node:
            return node["constantValue"]
        if "functionInvocationValue" in node:
            call = node["functionInvocationValue"]
            return {"fn": call["functionName"], "args": {k: res(v) for k, v in call.get("arguments", {}).items()}}
        if "functionDefinitionValue" in node:
            return {"fn": "<lambda>", "args": {"body": res(values[node["functionDefinitionValue"]["body"]])}}
        if "arrayValue" in node:
            return [res(v) for v in node["arrayValue"]["values"]]
        if "dictionaryValue" in node:
            return {k: res(v) for k, v in node["dictionaryValue"]["values"].items()}
        if "argumentReference" in node:
            return {"fn": "<arg>", "args": {}}
        raise AssertionError(f"unexpected node {node}")

    return res(values[doc["result"]])


def calls(tree: Any, name: str) -> list[dict]:
    """Arguments of every call of ``name`` in the tree (depth first)."""
    found = []
    if isinstance(tree, dict):
        if tree.get("fn") == name:
            found.append(tree["args"])
        for v in (tree.get("args", {}) if "fn" in tree else tree).values():
            found += calls(v, name)
    elif isinstance(tree, list):
        for v in tree:
            found += calls(v, name)
    return found
