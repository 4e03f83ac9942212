"""``python -m zendesk_export``: the same command as ``zendesk-export``."""

import sys

from zendesk_export.cli import main

sys.exit(main())
