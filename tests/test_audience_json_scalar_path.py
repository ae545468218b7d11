"""Trait and property conditions: the scalar fast path gives jsonpath's answer on look-alike values.

PostgreSQL first compares the plain value at the path (`traits->>'plan' = 'gold'`) and falls back
to jsonpath's lax list semantics only where some step is a list. These documents are chosen to
trip a careless fast path: numbers written as strings, strings that look like lists or booleans,
lists in the middle of the path, JSON null. (Lists of lists are left out: jsonpath unwraps them
twice, the SQLite evaluator once; the language documents lists of scalars or objects.)
"""

import pytest

from audiences.compiler import profiles_matching
from audiences.testing import profile_add

pytestmark = pytest.mark.django_db

DOCS = {
    "string": {"v": "gold", "a": {"b": "US"}},
    "number": {"v": 12, "a": {"b": 7.5}},
    "numeric_text": {"v": "12", "a": {"b": "7.5"}},
    "list": {"v": ["x", "gold", 12], "a": {"b": ["DE", "US"]}},
    "list_in_path": {"v": "other", "a": [{"b": "FR"}, {"b": "US"}]},
    "bracket_text": {"v": "[gold]", "a": {"b": "[US]"}},
    "boolean": {"v": True, "a": {"b": False}},
    "boolean_text": {"v": "true", "a": {"b": "false"}},
    "null": {"v": None, "a": {"b": None}},
    "object": {"v": {"gold": 1}, "a": "US"},
    "missing": {},
}


@pytest.fixture
def people():
    return {name: profile_add(traits=doc).pk for name, doc in DOCS.items()}


def matched(people, rule):
    found = set(profiles_matching(rule).values_list("pk", flat=True))
    return {name for name, pk in people.items() if pk in found}


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"trait": "v", "op": "eq", "value": "gold"}, {"string", "list"}),
        ({"trait": "v", "op": "eq", "value": 12}, {"number", "list"}),
        ({"trait": "v", "op": "eq", "value": "12"}, {"numeric_text"}),
        ({"trait": "v", "op": "eq", "value": True}, {"boolean"}),
        ({"trait": "v", "op": "eq", "value": "true"}, {"boolean_text"}),
        ({"trait": "v", "op": "eq", "value": "[gold]"}, {"bracket_text"}),
        ({"trait": "v", "op": "in", "value": ["gold", 12]}, {"string", "number", "list"}),
        ({"trait": "a.b", "op": "eq", "value": "US"}, {"string", "list", "list_in_path"}),
        ({"trait": "a.b", "op": "in", "value": ["US", "FR"]}, {"string", "list", "list_in_path"}),
        ({"trait": "a.b", "op": "gt", "value": 7}, {"number"}),
        ({"trait": "a.b", "op": "between", "value": [7, 8]}, {"number"}),
        ({"trait": "a.b", "op": "starts_with", "value": "U"}, {"string", "list", "list_in_path"}),
        (
            {"trait": "a.b", "op": "contains", "value": "S"},
            {"string", "list", "list_in_path", "bracket_text"},
        ),
        ({"trait": "v", "op": "exists"}, set(DOCS) - {"null", "missing"}),
        ({"trait": "v", "op": "neq", "value": "gold"}, set(DOCS) - {"string", "list"}),
        ({"trait": "a.b", "op": "not_in", "value": ["US"]}, set(DOCS) - {"string", "list", "list_in_path"}),
    ],
    ids=lambda value: str(value) if not isinstance(value, set) else "",
)
def test_scalar_path_agrees_with_lax_semantics(people, cond, expected):
    assert matched(people, cond) == expected
