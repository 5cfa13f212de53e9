"""The job lifecycle: intake, submit, poll, cancel, finalize, sweep and reconcile.

``queued → submitting → in_progress → finalizing → completed | failed | cancelled | incomplete``
(plus ``cancelling``). Every transition is a compare-and-set stamped into ``state_history``.
"""
