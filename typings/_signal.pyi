# pyrunc imports CPython's _signal (signal.py minus its enums, see
# pyrunc/kernel/signals.py); typeshed has no stub for it: the names are signal's.
from signal import *
from signal import default_int_handler as default_int_handler
