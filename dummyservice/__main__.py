"""``python -m dummyservice [flags]``: the worker, with flags for the lifecycle variables."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    from .flags import environment_from_args

    from_flags = environment_from_args(sys.argv[1:] if argv is None else argv, prog)
    os.environ.update(from_flags)

    from .startup import load_or_exit

    load_or_exit(from_flags)  # name the flag, not only its variable, in errors
    from .app import app

    worker = app.conf.Worker(app, loglevel=os.environ.get("LOG_LEVEL", "INFO"))
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
