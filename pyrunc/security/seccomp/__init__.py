"""linux.seccomp in the parent: compile.py turns the profile into a classic
BPF program (libseccomp via pyseccomp), cache.py keeps compiled programs so
the same profile twice costs a file read, notify.py reaches the seccomp
agent for SCMP_ACT_NOTIFY. The child only loads the bytes.
"""
