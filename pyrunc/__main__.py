"""`python -m pyrunc` is the same as the `pyrunc` command."""
from pyrunc.cli import main

main()
