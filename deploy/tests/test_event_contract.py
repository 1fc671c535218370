"""The published event contract, docs/events/asyncapi.json, checked with an
independent JSON Schema validator: every event version 1 wrote
(docs/events/v1-examples.jsonl) is valid against its message's payload schema,
and events that lack what readers rely on are not. (The document itself is
generated from the Rust types and held to them by
crates/api/tests/event_contract.rs.)
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from conftest import REPO

EVENTS = REPO / "docs" / "events"
CONTRACT = json.loads((EVENTS / "asyncapi.json").read_text())
EXAMPLES = [json.loads(line) for line in (EVENTS / "v1-examples.jsonl").read_text().splitlines()]
MESSAGES = {m["name"]: m for m in CONTRACT["components"]["messages"].values()}


def validator(event_type: str) -> jsonschema.protocols.Validator:
    """The payload schema of `event_type`, its references resolved in the document."""
    pointer = next(f"#/components/messages/{mid}/payload"
                   for mid, m in CONTRACT["components"]["messages"].items() if m["name"] == event_type)
    schema = {**CONTRACT, "$ref": pointer}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_the_contract_is_asyncapi_3_with_a_message_per_event_type():
    assert CONTRACT["asyncapi"].startswith("3.")
    # Every kind has its message; "label.created" stands for a newer writer's kind.
    assert set(MESSAGES) == {e["event_type"] for e in EXAMPLES} - {"label.created"}
    for channel in CONTRACT["channels"].values():
        assert channel["address"].startswith("ontask.")


@pytest.mark.parametrize("event", [e for e in EXAMPLES if e["event_type"] in MESSAGES],
                         ids=lambda e: f'{e["event_type"]}-{e["event_id"][-2:]}')
def test_every_v1_event_is_valid_against_its_message(event):
    validator(event["event_type"]).validate(event)


def test_an_event_without_what_readers_rely_on_is_invalid():
    created = next(e for e in EXAMPLES if e["event_type"] == "task.created")
    broken = copy.deepcopy(created)
    del broken["data"]["task"]["title"]
    with pytest.raises(jsonschema.ValidationError):
        validator("task.created").validate(broken)
    wrong_type = copy.deepcopy(created)
    wrong_type["event_type"] = "task.updated"
    with pytest.raises(jsonschema.ValidationError):
        validator("task.created").validate(wrong_type)
    due = copy.deepcopy(next(e for e in EXAMPLES if e["event_type"] == "reminder.due"))
    due["data"]["fire_at"] = 1764575100
    with pytest.raises(jsonschema.ValidationError):
        validator("reminder.due").validate(due)
