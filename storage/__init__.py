"""SQLite storage: the only package that writes SQL.

`Store` opens the database (WAL, busy timeout, migrations) and offers one
method per operation the rest of the product needs. Tables are documented in
`docs/storage.md`.
"""

from storage.db import SCHEMA_VERSION, StorageError, StorageFull, Store

__all__ = ["SCHEMA_VERSION", "Store", "StorageError", "StorageFull"]
