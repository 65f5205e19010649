"""`python -m video_monitoring ...`: operator commands (see runtime/cli.py)."""

import sys

from video_monitoring.runtime.cli import main

sys.exit(main())
