"""`python -m constancia`: the same as the `constancia` command."""

from constancia.cli import main

main()
