"""Storage: cached artifacts keyed by config and code, file locks, atomic writes.

- :mod:`rarescale.store.artifacts` cached run results, keyed by their config and code
- :mod:`rarescale.store.locks`     file locks for files several processes share
- :mod:`rarescale.store.files`     one atomic write (a temporary name, then a rename)
"""
