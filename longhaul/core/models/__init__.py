"""All tables. Importing this module registers every model on ``Base.metadata``."""

from longhaul.core.models import artifacts, costs, objects, streams, webhooks  # noqa: F401
from longhaul.core.models.base import Base, utcnow
from longhaul.core.models.jobs import Job, ToolCall
from longhaul.core.models.tenants import ApiKey, Tenant
from longhaul.core.models.upstreams import Upstream

__all__ = ["ApiKey", "Base", "Job", "Tenant", "ToolCall", "Upstream", "utcnow"]
