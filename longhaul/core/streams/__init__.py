"""Live progress: each streaming job's events, stored in PostgreSQL (``store``), fanned out
over Redis pub/sub (``fanout``), written by the relay (``relay``) and summarised as the job's
``progress`` (``progress``)."""
