"""The ground floor under tracking: shared plumbing (leased claims of due rows, rate limits,
wake-a-task-after-commit, JSON bulk writes, encrypted fields, the embedded PostgreSQL).

Imports nothing from the floors above (tracking, audiences, channels, journeys).
"""
