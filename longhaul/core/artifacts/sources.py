"""Where a finished response's files are: a pure function over the response dict.

Each source has a ``key`` that is stable for the job (``image:<item id>``,
``container:<container id>/<file id>``, ``file:<file id>``, ``url:<item id>:<n>``), so archiving
twice finds the same rows and storage keys. Container *listings* need the network; the service
turns listed files into sources with :func:`container_file_sources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from longhaul.core.artifacts.filenames import sanitize_filename

IMAGE_EXTENSIONS = {
    "png": "png",
    "webp": "webp",
    "jpeg": "jpg",
    "jpg": "jpg",
    "gif": "gif",
    "svg": "svg",
}
IMAGE_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}
_CONTAINER_FILE_URL = re.compile(r"/containers/([^/?#]+)/files/([^/?#]+)/content(?:[?#].*)?$")


@dataclass(frozen=True)
class ArtifactSource:
    key: str
    kind: str  # image | container_file | code_interpreter_image | file
    filename: str
    output_index: int | None = None
    item_id: str | None = None
    container_id: str | None = None
    file_id: str | None = None
    url: str | None = None
    output_format: str | None = None
    content_type: str | None = None
    size_hint: int | None = None
    image_b64: str | None = field(default=None, repr=False)

    def details(self) -> dict[str, Any]:
        """What is recorded in the row's ``source`` column (never the image blob)."""
        names = ("container_id", "file_id", "url", "output_format", "size_hint")
        data = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if self.url and self.url.startswith("data:"):
            data["url"] = self.url[:64] + "…"
        return data


def find_sources(response: dict[str, Any]) -> list[ArtifactSource]:
    """Every file referenced by the response, in output order, one per key."""
    found: dict[str, ArtifactSource] = {}
    tool_of_container = {cid: link for cid, link in _code_interpreter_links(response)}
    images = 0
    for index, item in enumerate(response.get("output") or []):
        if not isinstance(item, dict):
            continue
        kind, item_id = item.get("type"), item.get("id")
        if (
            kind == "image_generation_call"
            and isinstance(item.get("result"), str)
            and item["result"]
        ):
            images += 1
            fmt = str(item.get("output_format") or "png").lower()
            ext = IMAGE_EXTENSIONS.get(fmt, "png")
            _add(
                found,
                ArtifactSource(
                    key=f"image:{item_id or index}",
                    kind="image",
                    filename=f"generated_image_{images}.{ext}",
                    output_index=index,
                    item_id=item_id,
                    output_format=fmt,
                    content_type=IMAGE_TYPES.get(fmt),
                    image_b64=item["result"],
                ),
            )
        elif kind == "code_interpreter_call":
            for n, output in enumerate(item.get("outputs") or []):
                if isinstance(output, dict) and output.get("type") == "image" and output.get("url"):
                    _add(found, _image_output(str(output["url"]), index, item_id, n))
        elif kind == "message":
            for annotation in _annotations(item):
                source = _annotation_source(annotation, index, item_id, tool_of_container)
                if source is not None:
                    _add(found, source)
    return list(found.values())


def code_interpreter_containers(response: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    """``(container_id, output_index, item_id)`` of each code-interpreter container, once."""
    return [(cid, index, item_id) for cid, (index, item_id) in _code_interpreter_links(response)]


def container_file_sources(
    container_id: str,
    files: Iterable[dict[str, Any]],
    *,
    output_index: int | None,
    item_id: str | None,
) -> list[ArtifactSource]:
    """Sources for listed container files the assistant created (``source == "assistant"``)."""
    sources = []
    for listed in files:
        if listed.get("source") != "assistant" or not listed.get("id"):
            continue
        path = str(listed.get("path") or listed["id"])
        size = listed.get("bytes")
        sources.append(
            ArtifactSource(
                key=f"container:{container_id}/{listed['id']}",
                kind="container_file",
                filename=sanitize_filename(path, default=str(listed["id"])),
                output_index=output_index,
                item_id=item_id,
                container_id=container_id,
                file_id=str(listed["id"]),
                size_hint=size if isinstance(size, int) else None,
            )
        )
    return sources


def merge(
    sources: Iterable[ArtifactSource], more: Iterable[ArtifactSource]
) -> list[ArtifactSource]:
    found = {s.key: s for s in sources}
    for source in more:
        _add(found, source)
    return list(found.values())


def _add(found: dict[str, ArtifactSource], source: ArtifactSource) -> None:
    """First mention wins, but a later one may supply a real file name or a size."""
    first = found.get(source.key)
    if first is None:
        found[source.key] = source
        return
    updates: dict[str, Any] = {}
    if first.filename == first.file_id and source.filename != source.file_id:
        updates["filename"] = source.filename
    if first.size_hint is None and source.size_hint is not None:
        updates["size_hint"] = source.size_hint
    if updates:
        found[source.key] = replace(first, **updates)


def _code_interpreter_links(response: dict[str, Any]) -> list[tuple[str, tuple[int, str | None]]]:
    links: dict[str, tuple[int, str | None]] = {}
    for index, item in enumerate(response.get("output") or []):
        if isinstance(item, dict) and item.get("type") == "code_interpreter_call":
            cid = item.get("container_id")
            if isinstance(cid, str) and cid and cid not in links:
                links[cid] = (index, item.get("id"))
    return list(links.items())


def _annotations(message: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for part in message.get("content") or []:
        if isinstance(part, dict):
            for annotation in part.get("annotations") or []:
                if isinstance(annotation, dict):
                    yield annotation


def _annotation_source(
    annotation: dict[str, Any],
    index: int,
    item_id: str | None,
    tool_of_container: dict[str, tuple[int, str | None]],
) -> ArtifactSource | None:
    kind, file_id = annotation.get("type"), annotation.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        return None
    if kind == "container_file_citation" and annotation.get("container_id"):
        cid = str(annotation["container_id"])
        link_index, link_item = tool_of_container.get(cid, (index, item_id))
        return ArtifactSource(
            key=f"container:{cid}/{file_id}",
            kind="container_file",
            filename=sanitize_filename(annotation.get("filename"), default=file_id),
            output_index=link_index,
            item_id=link_item,
            container_id=cid,
            file_id=file_id,
        )
    if kind in ("file_path", "file_citation"):
        return ArtifactSource(
            key=f"file:{file_id}",
            kind="file",
            filename=sanitize_filename(annotation.get("filename"), default=file_id),
            output_index=index,
            item_id=item_id,
            file_id=file_id,
        )
    return None


def _image_output(url: str, index: int, item_id: str | None, n: int) -> ArtifactSource:
    """A code-interpreter image: the container file behind its URL when it names one."""
    match = _CONTAINER_FILE_URL.search(url)
    if match and not url.startswith("data:"):
        cid, fid = match.groups()
        return ArtifactSource(
            key=f"container:{cid}/{fid}",
            kind="container_file",
            filename=fid,
            output_index=index,
            item_id=item_id,
            container_id=cid,
            file_id=fid,
        )
    media = url[5:].split(";", 1)[0].split(",", 1)[0] if url.startswith("data:") else ""
    ext = {"image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}.get(media, "png")
    return ArtifactSource(
        key=f"url:{item_id or index}:{n}",
        kind="code_interpreter_image",
        filename=f"code_interpreter_image_{n + 1}.{ext}",
        output_index=index,
        item_id=item_id,
        url=url,
    )
