"""`python -m pyrunc` is the same as the `pyrunc` command."""
from pyrunc.cli.fastparse import main

main()
