"""Regenerate ``openai-responses-schemas.json`` from the full OpenAI OpenAPI spec.

Usage: python tests/data/openapi/trim_spec.py /path/to/openai-openapi.json

Keeps the root schemas below and everything they reference transitively, drops
documentation-only keys (description/example text, x-oaiMeta) to keep the file small.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOTS = [
    "Response",
    "Error",
    "ErrorResponse",
    "ResponseItemList",
    "ContainerResource",
    "ContainerFileResource",
    "ContainerFileListResource",
    "OpenAIFile",
    "ResponseStreamEvent",
    "ResponseErrorEvent",
    "ContainerListResource",
    "VectorStoreObject",
    "ListVectorStoresResponse",
    "DeleteVectorStoreResponse",
    "VectorStoreFileObject",
    "ListVectorStoreFilesResponse",
    "DeleteVectorStoreFileResponse",
    "VectorStoreFileBatchObject",
    "VectorStoreFileContentResponse",
    "VectorStoreSearchResultsPage",
    "ConversationResource",
    "ConversationItem",
    "ConversationItemList",
    "DeletedConversationResource",
]
DROP_TEXT = {"description", "example"}  # only when a string (a property may be named so)
REF = re.compile(r"#/components/schemas/([A-Za-z0-9_.-]+)")


def _strip(node: object) -> object:
    if isinstance(node, dict):
        return {
            k: _strip(v)
            for k, v in node.items()
            if k != "x-oaiMeta" and not (k in DROP_TEXT and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def trim(spec: dict) -> dict:
    schemas = spec["components"]["schemas"]
    keep: set[str] = set()
    stack = list(ROOTS)
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        stack.extend(REF.findall(json.dumps(schemas[name])))
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "components": {"schemas": {n: _strip(schemas[n]) for n in sorted(keep)}},
    }


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text())
    out = Path(__file__).with_name("openai-responses-schemas.json")
    out.write_text(json.dumps(trim(source), indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
