"""Hypothesis strategies for hostile request bodies: specs drawn from the JSON Schema that
/api/schema serves (names from /api/catalog, so many are valid), then mutated the ways students
and attackers do: wrong types, huge numbers, NaN and infinity, deep nesting, odd unicode and
duplicate keys. Bodies are JSON *text*, since several of these cannot be built as Python objects."""

from __future__ import annotations

import json
import random
from typing import Any, Callable

from hypothesis import strategies as st

MAX_ITEMS = 4  # list lengths while drawing: enough to reach every layer type in a few examples
# Strings that have broken servers: a lone surrogate, RTL and zero-width marks, NUL, emoji, markup.
ODD_TEXT = ["\ud800", "\u202e\u200b", "\x00", "\U0001f600" * 50, "<script>alert(1)</script>", "' OR 1=1 --",
            "../../etc/passwd", "{{7*7}}", "%s%n", "A" * 5000]
ODD_NUMBERS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1e-400", "-0.0", "9" * 400, "-" + "9" * 4400,
               "1.7976931348623157e308", "5e-324", str(2**63), str(-2**63 - 1), "0.1e0001"]


# Fields drawn within the fuzz server's caps (or left out: uploaded data's fields need an upload),
# so that a fair share of the drawn specs are valid and reach the trainer.
HINTS: dict[str, st.SearchStrategy[Any]] = {
    "n_samples": st.integers(10, 200), "epochs": st.integers(1, 3), "units": st.integers(1, 64),
    "filters": st.integers(1, 8), "hidden": st.integers(1, 16), "batch_size": st.integers(1, 64),
    # Family-only training fields, set, are refused by every other family's task: drawn unset (null),
    # so that adding a family does not make nearly every draw invalid (the mutations still reach them).
    "d_lr": st.none(), "d_steps": st.none(), "denoise": st.none()}
OMIT = {"upload", "features", "target", "n_classes", "window", "horizon"}  # fields only some data takes
ALWAYS = {"type", "n_samples", "epochs", "training"}  # a union's tag; the server's caps are below the defaults of these


def from_schema(node: dict[str, Any], defs: dict[str, Any], names: dict[str, list[str]],
                field: str = "") -> st.SearchStrategy[Any]:
    """Values that follow `node` (a JSON Schema, as pydantic writes it); `names` gives the
    registered names of free-text fields such as `dataset`, so the draws are often valid."""
    if field in HINTS:
        return HINTS[field]
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(defs[name], defs, names, field))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(n, defs, names, field) for n in node[key]])
    kind = node.get("type")
    if kind == "object":
        props = {k: v for k, v in node.get("properties", {}).items() if k not in OMIT}
        required = set(node.get("required", [])) | (ALWAYS & set(props))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs, names, k) for k, v in props.items() if k in required},
            optional={k: from_schema(v, defs, names, k) for k, v in props.items() if k not in required})
    if kind == "array":
        items = from_schema(node.get("items", {}), defs, names, field)
        lo = node.get("minItems", 0)
        return st.lists(items, min_size=lo, max_size=max(lo, min(node.get("maxItems", MAX_ITEMS), MAX_ITEMS)))
    if kind == "integer":
        lo = node.get("minimum", node.get("exclusiveMinimum", -10**6 - 1) + 1)
        hi = node.get("maximum", node.get("exclusiveMaximum", 10**6 + 1) - 1)
        return st.integers(lo, hi)
    if kind == "number":
        return st.floats(node.get("minimum", node.get("exclusiveMinimum")),
                         node.get("maximum", node.get("exclusiveMaximum")), allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in node, exclude_max="exclusiveMaximum" in node)
    if kind == "string":
        if field in names:
            return st.sampled_from(names[field])
        return st.text(min_size=node.get("minLength", 0), max_size=min(node.get("maxLength", 20), 20))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values()


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, a few levels deep."""
    leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10)
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=8)


def catalog_names(catalog: dict[str, Any]) -> dict[str, list[str]]:
    """Registered names by the spec field that takes them."""
    return {"dataset": [d["name"] for d in catalog["datasets"]],
            "optimizer": [o["name"] for o in catalog["optimizers"]],
            "activation": [a["name"] for a in catalog["activations"]],
            "task": [t["name"] for t in catalog["tasks"]]}


# -- mutations: each takes JSON text of a dict and a seeded random, and returns JSON text -------------------
def _paths(value: Any, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _replace(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


PLACEHOLDER = "\u2603FUZZ\u2603"


def _with_literal(spec: dict[str, Any], rnd: random.Random, literal: str) -> str:
    """The spec's text with one value (not the root) replaced by a raw JSON literal."""
    path = rnd.choice(_paths(spec)[1:] or [()])
    return json.dumps(_replace(spec, path, PLACEHOLDER)).replace(json.dumps(PLACEHOLDER), literal)


def wrong_type(spec: dict[str, Any], rnd: random.Random) -> str:
    return _with_literal(spec, rnd, rnd.choice(['"x"', "[]", "{}", "true", "null", "[[1]]", '{"type": "dense"}', "0"]))


def odd_number(spec: dict[str, Any], rnd: random.Random) -> str:
    return _with_literal(spec, rnd, rnd.choice(ODD_NUMBERS))


def odd_text(spec: dict[str, Any], rnd: random.Random) -> str:
    return _with_literal(spec, rnd, json.dumps(rnd.choice(ODD_TEXT)))


def deep(spec: dict[str, Any], rnd: random.Random) -> str:
    n = rnd.choice([10, 63, 65, 200, 964, 965, 3000])
    opener, closer = rnd.choice([("[", "]"), ('{"a":', "}")])
    return _with_literal(spec, rnd, opener * n + "1" + closer * n)


def duplicate_key(spec: dict[str, Any], rnd: random.Random) -> str:
    """A key given twice in one object (JSON allows it; the last one wins in Python)."""
    text = json.dumps(spec)
    key = rnd.choice(['"data"', '"model"', '"training"'])
    return text.replace("{", "{" + key + ": 12, ", 1) if rnd.random() < 0.5 else text[:-1] + ", " + key + ": []}"


def unknown_field(spec: dict[str, Any], rnd: random.Random) -> str:
    return _with_literal(spec, rnd, '{"__proto__": {"admin": true}, "constructor": 1}')


def truncated(spec: dict[str, Any], rnd: random.Random) -> str:
    text = json.dumps(spec)
    return text[: rnd.randrange(0, len(text))]


MUTATIONS: list[Callable[[dict[str, Any], random.Random], str]] = [
    wrong_type, odd_number, odd_text, deep, duplicate_key, unknown_field, truncated]


def bodies(schema: dict[str, Any], names: dict[str, list[str]]) -> st.SearchStrategy[str]:
    """JSON text: a drawn spec as it is (a third of the time) or with one mutation."""
    specs = from_schema(schema, schema.get("$defs", {}), names)
    mutated = st.tuples(specs, st.sampled_from(MUTATIONS), st.randoms(use_true_random=False)).map(
        lambda t: t[1](t[0], t[2]))
    return st.one_of(specs.map(json.dumps), mutated, mutated)


def check_answer(status: int, text: str, where: str) -> None:
    """The fuzz targets: no 5xx, standard JSON, and a 422 that names a path for every error."""
    assert status < 500, f"{where}: {status} {text[:300]}"
    if status == 422:
        body = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        errors = body.get("errors")
        assert errors and all(isinstance(e.get("path"), str) and e["path"] for e in errors), f"{where}: {text[:300]}"
