"""Notifications: an in-app inbox and e-mail, fanned out by the task engine.

An *announcement* is one event (a poll opened, closes soon, was published; a suggestion
was promoted), unique by (kind, object key). The worker or a service creates it and
enqueues its fan-out; the fan-out inserts one *notification* per recipient in chunks,
each chunk with its mail task. docs/decisions/notifications.md tells the guarantees.
"""
