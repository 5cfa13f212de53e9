"""The job viewer: server-rendered pages under ``/ui`` in the API process (see docs/viewer.md)."""

from longhaul.api.ui.routes import router

__all__ = ["router"]
