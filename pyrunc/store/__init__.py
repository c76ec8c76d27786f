"""The on-disk record of containers, `<root>/<id>/`: the locked directory and
its atomic state.json (statedir.py), and the status derived from facts with
the table of what each status allows (status.py). Import-light: every verb,
the hot ones included, starts here.
"""
