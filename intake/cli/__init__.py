"""The `hrd-intake` command line: the composition root.

Human output by default, `--json` where a script reads it. Errors are one
sentence on stderr with a non-zero exit code: 1 for a refused action, 2 for
usage, 3 for a missing or broken setup.
"""

from intake.cli.main import main

__all__ = ["main"]
