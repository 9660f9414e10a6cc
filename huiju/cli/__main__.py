"""`python -m huiju.cli`: the same command line as `huiju`."""

from huiju.cli import main

main()
