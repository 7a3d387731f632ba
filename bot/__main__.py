"""`python -m bot` is the same as `balansebot`."""

import sys

from bot.cli import main

sys.exit(main())
