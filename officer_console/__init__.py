"""The officers' console (Flask-AppBuilder): inboxes, case pages, decisions, adapters, processes.

Mounted on the web process by :func:`huiju.web.create_app` once it exists; until then officers use
the JSON API under ``/api/v1`` and the ``huiju`` command.
"""
