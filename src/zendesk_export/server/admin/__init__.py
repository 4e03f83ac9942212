"""The admin API under ``/__admin/``: test controls that real Zendesk does not have — one table of routes, the
OpenAPI document generated from it, and the guard that keeps it closed without the admin token."""
