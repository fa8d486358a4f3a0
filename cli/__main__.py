"""``python -m cli``: the same as the ``dummy-service`` command."""

from .main import main

main()
