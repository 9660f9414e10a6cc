"""Application services: the use cases the API, the CLI and the web apps call.

A service function owns its transaction (it receives the :class:`huiju.db.Database` or a session
its caller opened with ``transaction()``), checks who is asking, and returns plain data.
"""
