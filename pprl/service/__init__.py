"""The central matcher as a service: campaigns, per-party tokens, uploads checked like
``pprl verify`` checks its inputs, and a hash-chained audit log, in a real database.

The service depends on the library core (``pprl.store``, ``pprl.labels``); the core never
imports the service. Its heavy dependencies (FastAPI, SQLAlchemy, alembic, uvicorn,
httpx) load only when a service command runs.
"""
