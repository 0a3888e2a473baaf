"""Verification and staleness: the policy (pure rules), the one status function, the checker, the queue,
flags, notifications and the digest."""
