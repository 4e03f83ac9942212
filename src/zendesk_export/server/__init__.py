"""A faithful local Zendesk Support API: tickets and the incremental exports, on a real database."""

from zendesk_export.server.app import create_app
from zendesk_export.server.http import ServerConfig
from zendesk_export.server.runner import RunningServer, running_server, start_server

__all__ = ["ServerConfig", "create_app", "RunningServer", "running_server", "start_server"]
