"""`python -m evidence ...` is the `evidence` command (how `evidence serve` starts its consumer)."""

from evidence.cli import main

main()
