"""`python -m pyrunc` is the same as the `pyrunc` command."""
from pyrunc.fastcli import main

main()
