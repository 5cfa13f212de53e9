"""``GET /v1/jobs/{job_id}/artifacts/{artifact_id}``: stream the bytes, or redirect to S3."""

from __future__ import annotations

import base64
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from longhaul.api.deps import SessionDep, TenantDep
from longhaul.api.errors import documented
from longhaul.core.artifacts.service import get_artifact
from longhaul.core.config import get_settings
from longhaul.core.errors import NotFound
from longhaul.core.storage import ObjectStream, get_storage
from longhaul.core.storage.names import content_disposition

router = APIRouter(tags=["artifacts"])


@router.get(
    "/v1/jobs/{job_id}/artifacts/{artifact_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."},
        302: {"description": "S3 storage: a short-lived presigned URL in ``Location``."},
        **documented(401, 404),
    },
)
def download_artifact(
    job_id: str, artifact_id: str, tenant: TenantDep, session: SessionDep
) -> Response:
    """Local storage streams the file; S3 answers 302 to a short-lived presigned URL."""
    artifact = get_artifact(session, tenant_id=tenant.id, job_id=job_id, artifact_id=artifact_id)
    if artifact.status != "stored":
        raise NotFound(
            f"Artifact {artifact_id!r} is not available (status {artifact.status}): "
            f"{artifact.error or 'not stored yet'}",
            param="artifact_id",
            code=f"artifact_{artifact.status}",
        )
    storage = get_storage()
    ttl = get_settings().presign_ttl_seconds
    url = storage.url(artifact.storage_key, ttl, filename=artifact.filename)
    if url is not None:
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    try:
        stream = storage.open(artifact.storage_key)
    except FileNotFoundError:
        raise NotFound(
            f"Artifact {artifact_id!r} is recorded but its bytes are gone from storage.",
            param="artifact_id",
            code="artifact_object_missing",
        ) from None
    headers = {
        "Content-Disposition": content_disposition(artifact.filename),
        "X-Content-Type-Options": "nosniff",
        # Files are untrusted (SVG can carry script): never render them as an active page.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=0",
    }
    if artifact.size is not None:
        headers["Content-Length"] = str(artifact.size)
    if artifact.sha256:
        headers["ETag"] = f'"{artifact.sha256}"'
        digest = base64.b64encode(bytes.fromhex(artifact.sha256)).decode()
        headers["Repr-Digest"] = f"sha-256=:{digest}:"
    return StreamingResponse(
        _closing(stream),
        media_type=artifact.content_type or "application/octet-stream",
        headers=headers,
    )


def _closing(stream: ObjectStream) -> Iterator[bytes]:
    with stream:
        yield from stream
