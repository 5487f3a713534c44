"""The store: the only layer that imports SQLAlchemy.

Modules: ``models`` (tables), ``db`` (URL, engines, the session helpers and the storage
contract), ``migrate`` (Alembic upgrade and schema checks), ``queries`` (studies, trials,
observations, rungs, decisions) and ``leases`` (one controller per study). Import the module
you need; this package imports nothing on its own.
"""
