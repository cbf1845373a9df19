"""`python -m constancia`: the same as the `constancia` command."""

from constancia.cli import main

if __name__ == "__main__":
    main()
