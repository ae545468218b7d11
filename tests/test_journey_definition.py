"""Journey definitions are validated completely before publishing: every error, by path, at once."""

import pytest

from journeys.definition import DefinitionInvalid, definition_validate
from journeys.services.versions import journey_create, version_publish

pytestmark = pytest.mark.django_db


def lifecycle(**overrides):
    d = {
        "slug": "welcome",
        "name": "Welcome",
        "entry": {"event": "Signed Up"},
        "reentry": "never",
        "stages": [
            {
                "key": "welcome",
                "actions": [{"tag": {"add": "welcomed"}}],
                "transitions": [
                    {
                        "to": "done",
                        "on_event": {
                            "event": "Order Completed",
                            "where": [{"property": "total", "op": "gte", "value": 10}],
                        },
                    },
                    {"to": "ab", "after": {"days": 2, "at": "10:00"}},
                ],
            },
            {"key": "ab", "split": [{"to": "a", "weight": 50}, {"to": "b", "weight": 50}]},
            {"key": "a", "transitions": [{"to": "done", "after": {"hours": 1}}]},
            {"key": "b", "transitions": [{"to": "done", "after": {"hours": 1}}]},
            {"key": "done", "exit": True},
        ],
    }
    d.update(overrides)
    return d


def paths(report):
    return {e.path for e in report.errors}


def test_a_valid_lifecycle_definition_passes():
    report = definition_validate(lifecycle())
    assert report.ok, report.errors


def test_unknown_stage_targets_are_named_by_path():
    d = lifecycle()
    d["stages"][0]["transitions"][1]["to"] = "nowhere"
    report = definition_validate(d)
    assert "stages[0].transitions[1].to" in paths(report)
    assert any("unknown stage 'nowhere'" in e.message for e in report.errors)


def test_every_error_is_reported_at_once():
    d = lifecycle(holdout_percent=150, reentry="sometimes")
    d["stages"][1]["split"][0]["weight"] = 70  # 70 + 50
    d["stages"][2]["transitions"] = []  # no way out
    d["stages"].append({"key": "orphan", "transitions": [{"to": "done", "after": {"days": 1}}]})
    d["stages"][0]["transitions"][1]["after"]["at"] = "25:00"
    report = definition_validate(d)
    found = paths(report)
    assert {
        "holdout_percent",
        "reentry",
        "stages[1].split",
        "stages[2]",
        "stages[5]",
        "stages[0].transitions[1].after.at",
    } <= found, found
    assert any("unreachable" in e.message for e in report.errors)
    assert any("no way out" in e.message for e in report.errors)
    assert any("add up to 100" in e.message for e in report.errors)


def test_a_loop_without_a_wait_is_refused_but_a_loop_with_one_is_fine():
    spin = lifecycle()
    spin["stages"][2] = {
        "key": "a",
        "transitions": [{"to": "ab", "if": {"tag": "vip"}}, {"to": "done", "after": {"days": 1}}],
    }
    report = definition_validate(spin)
    assert any("loop with no wait" in e.message for e in report.errors), report.errors

    waits = lifecycle()
    waits["stages"][2] = {"key": "a", "transitions": [{"to": "ab", "after": {"days": 1}}]}
    assert definition_validate(waits).ok


def test_conds_and_rules_are_checked_by_the_audience_language_with_prefixed_paths():
    d = lifecycle(entry_rule={"trait": "country", "op": "bogus", "value": "DE"})
    d["stages"][0]["transitions"][0]["on_event"]["where"][0]["op"] = "nope"
    report = definition_validate(d)
    found = paths(report)
    assert "entry_rule.op" in found or any(p.startswith("entry_rule") for p in found), found
    assert "stages[0].transitions[0].on_event.where[0].op" in found, found


def test_missing_templates_and_audiences_are_errors():
    d = lifecycle(entry={"audience_entered": "no-such-audience"})
    d["stages"][0]["actions"].append({"send": {"channel": "email", "template": "no-such-template"}})
    report = definition_validate(d)
    found = paths(report)
    assert "entry.audience_entered" in found
    assert "stages[0].actions[1].send.template" in found


def test_bad_schedule_and_zone_are_errors():
    d = lifecycle(entry={"schedule": "61 * * * *", "audience": "x", "timezone": "Mars/Olympus"})
    found = paths(definition_validate(d, check_references=False))
    assert {"entry.schedule", "entry.timezone"} <= found


def test_not_an_object_is_an_error_not_an_exception():
    assert not definition_validate(["stages"]).ok
    assert not definition_validate({"stages": "x"}).ok
    assert not definition_validate({"slug": "x", "name": "x", "entry": {}, "stages": [1, {"key": 5}]}).ok


def test_publishing_an_invalid_draft_is_refused_with_the_errors():
    journey = journey_create(definition=lifecycle(holdout_percent=-1))
    with pytest.raises(DefinitionInvalid) as info:
        version_publish(version=journey.versions.get())
    assert "holdout_percent" in str(info.value)
    assert journey.versions.get().published_at is None
