"""Per-job cost ledger, usage reports and monthly budgets."""
