"""The data: the datasets read from their distributed files (datasets, I/O at the edge), the
prepared arrays' contract (prepared) and the planted truth that validates the estimates (planted:
flipped labels and how well a score finds them)."""
