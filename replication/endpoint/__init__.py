"""The global endpoint: one OCI Distribution /v2/ login server in front of every region's registry.

Runs as its own process (`manage.py run_endpoint`, URLconf `portal.endpoint_urls`); the routing
rules live in `replication/services/routing.py`, this package speaks HTTP.
"""
