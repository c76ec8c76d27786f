# CPython >= 3.12's C sha256 (pyrunc/config/cache.py), without hashlib's imports.
from hashlib import sha256 as sha256
