"""`python -m video_monitoring ...`: operator commands (see cli.py)."""

import sys

from video_monitoring.cli import main

sys.exit(main())
