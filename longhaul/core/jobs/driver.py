"""The one owner of a step's transactions.

Every step that calls the network runs as claim → call → record:

- **claim** writes the lease (and any state change) and is committed before anything leaves
  the process, so a non-idempotent create is only ever sent for a job already ``submitting``;
- **call** runs with no transaction open and no connection held (after a commit the session
  gives its connection back to the pool);
- **record** writes the outcome, committed as one transaction.

Steps only flush; ``drive`` commits. Messages a phase queues (``core.messages``) leave after
its commit. A step whose call phase has durable checkpoints of its own (finalize stores each
archived file as it goes) gets ``checkpoint``, which commits through the driver too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

ClaimT = TypeVar("ClaimT")
OutcomeT = TypeVar("OutcomeT")
ResultT = TypeVar("ResultT", covariant=True)


class StepPhases(Protocol[ClaimT, OutcomeT, ResultT]):
    def claim(self, session: Session) -> ClaimT | None:
        """Take the job (flush only). None: nothing to do now (another run has it, or the
        claim itself settled the job)."""

    def calls_out(self, claimed: ClaimT) -> bool:
        """Whether the call phase leaves the process. If not, claim, call and record share
        one transaction (a crash in between leaves the job as it was)."""

    def call(self, claimed: ClaimT, checkpoint: Callable[[], None]) -> OutcomeT:
        """The network call, with no transaction open. Must not raise: a failure is an
        outcome."""

    def record(self, session: Session, claimed: ClaimT, outcome: OutcomeT) -> ResultT:
        """Write the outcome (flush only)."""

    def idle(self) -> ResultT:
        """What ``drive`` returns when the claim found nothing to do."""


def drive(session: Session, step: StepPhases[ClaimT, OutcomeT, ResultT]) -> ResultT:
    claimed = step.claim(session)
    if claimed is None:
        session.commit()
        return step.idle()
    if step.calls_out(claimed):
        session.commit()
    outcome = step.call(claimed, session.commit)
    result = step.record(session, claimed, outcome)
    session.commit()
    return result
