"""``python -m course_lib.grade``: see the package docstring."""

import sys

from .cli import main

sys.exit(main())
