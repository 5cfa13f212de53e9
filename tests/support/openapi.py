"""Validation against OpenAI's OpenAPI schemas (the trimmed copy in ``tests/data/openapi``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_FILE = Path(__file__).parents[1] / "data" / "openapi" / "openai-responses-schemas.json"


@cache
def openai_schemas() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())  # type: ignore[no-any-return]


class SchemaValidator:
    """Validates instances against ``#/components/schemas/<name>`` of the trimmed spec."""

    def __init__(self, doc: dict[str, Any]) -> None:
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self._registry = Registry().with_resource("urn:openai-openapi", resource)

    def errors(self, name: str, instance: Any) -> list[str]:
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:openai-openapi#/components/schemas/{name}"}, registry=self._registry
        )
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, name: str, instance: Any) -> None:
        problems = self.errors(name, instance)
        assert not problems, f"{name} schema violations:\n" + "\n".join(problems[:10])
