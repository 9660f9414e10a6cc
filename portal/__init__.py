"""The residents' web app (居民门户): apply, follow cases, answer requests for material, rate.

Mounted on the web process by :func:`huiju.web.create_app` once it exists; until then residents use
the JSON API under ``/api/v1`` with their accounts.
"""
