"""Middleware only: what happens to a request before a route sees it and to a response on its way out — rate
limits, fault injection, the request journal, Zendesk's headers."""
