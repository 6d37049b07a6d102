"""``python -m tinygraph`` is the ``tinygraph`` command."""

import os
import sys

# ``python -m`` puts the working directory first on sys.path, so a user's own models.py (or
# tqdm.py...) there would shadow the packages the commands import. The console script does not
# see that directory either; take it off, as ``python -P`` would (Python 3.11+ does it itself under -P).
if not getattr(sys.flags, "safe_path", False) and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from .cli import main  # noqa: E402  (after the path fix: the commands are imported from here on)

sys.exit(main())
