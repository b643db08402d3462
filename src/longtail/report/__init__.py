"""What a run says: its figures (plots), report.md (markdown), and a fresh run's metrics against
the committed ones (verify)."""
