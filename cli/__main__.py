"""`python -m gputel.cli`."""

import sys

from gputel.cli.main import main

sys.exit(main())
