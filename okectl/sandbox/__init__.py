"""The sandbox supplier: a reference implementation of the OKE supplier administration API.

`app` (Starlette application), `store` (SQLite), `seed` (loading states), `faults` (fault
and latency injection) and `server` (uvicorn, in the foreground or a background thread).
"""
