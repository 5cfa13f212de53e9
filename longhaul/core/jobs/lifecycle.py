"""The job lifecycle as data: statuses, steps, the allowed moves, and what each status means to
the outside (the Response status) and to the pipeline (the step that moves it on, its queue).

``state.transition`` refuses a move this table lacks; ``docs/architecture.md`` draws the same
table (a test compares them). Enum members are ``str``: they compare equal to the stored text
and serve as metric labels as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    IN_PROGRESS = "in_progress"
    CANCELLING = "cancelling"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"


class Step(StrEnum):
    """Units of work a worker runs for a job; each is one Celery task (``longhaul.jobs.<step>``)."""

    SUBMIT = "submit"
    POLL = "poll"
    CANCEL = "cancel"
    FINALIZE = "finalize"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.INCOMPLETE})
ACTIVE = frozenset(Status) - TERMINAL
RUNNING = (Status.IN_PROGRESS, Status.CANCELLING)  # the upstream holds a live response

# Every move a job may make. Terminal statuses have none.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    # submit claims it; a deadline or a cancel before submit ends it without an upstream call
    Status.QUEUED: frozenset({Status.SUBMITTING, Status.FINALIZING}),
    # the create succeeded; failed for good (or finished at once); a transient error or an
    # interrupted worker puts it back in line
    Status.SUBMITTING: frozenset({Status.IN_PROGRESS, Status.FINALIZING, Status.QUEUED}),
    Status.IN_PROGRESS: frozenset({Status.CANCELLING, Status.FINALIZING}),
    Status.CANCELLING: frozenset({Status.FINALIZING}),
    Status.FINALIZING: TERMINAL,
    **{status: frozenset() for status in TERMINAL},
}

# The step that moves a due job on from each status (``submitting`` is repaired by the sweep's
# reconcile, never stepped: its create may be in flight).
STEP_FOR_STATUS: dict[Status, Step] = {
    Status.QUEUED: Step.SUBMIT,
    Status.IN_PROGRESS: Step.POLL,
    Status.CANCELLING: Step.CANCEL,
    Status.FINALIZING: Step.FINALIZE,
}

# The Celery queue of each step: cancels are short upstream calls and share the poll workers.
QUEUE_FOR_STEP: dict[Step, str] = {
    Step.SUBMIT: "submit",
    Step.POLL: "poll",
    Step.CANCEL: "poll",
    Step.FINALIZE: "finalize",
}

# The OpenAI Response ``status`` shown while a job is active. A finished job shows the
# upstream's final object (its own status), or its terminal status when it never had one.
RESPONSE_STATUS: dict[str, str] = {
    Status.QUEUED: "queued",
    Status.SUBMITTING: "queued",
    Status.IN_PROGRESS: "in_progress",
    Status.CANCELLING: "in_progress",
    Status.FINALIZING: "in_progress",
}

# Response statuses that end an upstream response (OpenAI's enum); the same words as TERMINAL.
UPSTREAM_TERMINAL = frozenset(str(s) for s in TERMINAL)


class IllegalTransition(ValueError):
    """A move the table lacks: a programming error, never a race (races lose the CAS)."""


def allowed(from_status: str, to_status: str) -> bool:
    return Status(to_status) in TRANSITIONS[Status(from_status)]


def check_path(from_states: Iterable[str], *path: str) -> None:
    """Refuse unless every ``from`` state may move along ``path`` (one or more statuses, e.g.
    ``submitting → in_progress → finalizing`` written in one statement)."""
    for start in from_states:
        here = start
        for step in path:
            if not allowed(here, step):
                raise IllegalTransition(f"{start} → {' → '.join(path)}: {here} → {step}")
            here = step
