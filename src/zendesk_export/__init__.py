"""zendesk-export: Zendesk's Incremental Ticket Export, both ends.

- ``zendesk_export.server``: a faithful local Zendesk Support API (``create_app``, ``start_server``).
- ``zendesk_export.exporter``: a lossless, resumable exporter of every changed ticket.
- ``zendesk_export.testing``: a pytest fixture that runs the server on a free port.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
