"""The `zendesk-export` command: a thin shell over the library. Each subcommand parses, calls, reports."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from zendesk_export import __version__, demo, settings
from zendesk_export.exporter import commands as exporter_commands
from zendesk_export.redaction import redact_secrets

__all__ = ["main", "build_parser"]


def _fail(error: Exception) -> int:
    """One line, the exporter's format, and the usage exit code."""
    print(f"zendesk-export: error: {error}", file=sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from zendesk_export.server.edge.faults import FaultRuleError
    from zendesk_export.server.runner import CannotListen, DemoCredentialsExposed, WorkerExited, serve
    from zendesk_export.server.store import StoreUnavailable

    try:
        options = settings.resolve(settings.SERVE, vars(args))
        db = options.pop("db")
        serve(db, **options, banner=lambda text: print(text, flush=True))
    except (settings.SettingError, DemoCredentialsExposed, FaultRuleError, StoreUnavailable, CannotListen) as error:
        return _fail(error)
    except WorkerExited as error:
        print(f"zendesk-export: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _seed(args: argparse.Namespace) -> int:
    from zendesk_export.server.model.seed import seed_account
    from zendesk_export.server.store import StoreUnavailable, open_store

    try:
        options = settings.resolve(settings.SEED, vars(args))
        store = open_store(options["db"])
    except (settings.SettingError, StoreUnavailable) as error:
        return _fail(error)
    account = store.account(None)
    assert account is not None  # every database has its default account
    # the account's own clock, as stored: an advanced clock must not get tickets older than what was exported
    # alone: this command is the database's only user while it seeds (a server seeds through its admin API)
    result = seed_account(store, account.id, options["tickets"], options["random_seed"], account.clock.now(time.time()),
                          alone=True)
    store.close()
    print(f"added {result['tickets']} tickets and {result['users']} users to account {account.subdomain} "
          f"in {redact_secrets(options['db'])}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zendesk-export",
        description="Zendesk's Incremental Ticket Export, both ends: a faithful local Zendesk server "
        "(serve, seed) and a lossless, resumable exporter (export, demo).",
    )
    parser.add_argument("--version", action="version", version=f"zendesk-export {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run a local Zendesk API server",
                                description="Run a local Zendesk Support API (tickets and incremental exports).")
    settings.add_arguments(serve, settings.SERVE)
    serve.set_defaults(func=_serve)
    seed = commands.add_parser("seed", help="add synthetic tickets to a server database",
                               description="Add realistic synthetic tickets to the default account of a database.")
    settings.add_arguments(seed, settings.SEED)
    seed.set_defaults(func=_seed)
    exporter_commands.register(commands)
    demo.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
