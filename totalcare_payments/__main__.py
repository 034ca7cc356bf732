"""``python -m totalcare_payments``: the ``totalcare`` command."""

from .cli import main

main()
