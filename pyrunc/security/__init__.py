"""The parent's side of a container process's security and attributes,
decided before the first fork: capability names to numbers
(capabilities.py), process attributes as values the kernel takes
(attributes.py, also read by the child), and seccomp (seccomp/: compile,
cache, notify). The rules a config must pass are pyrunc.config.checks'; the
child applies what these decide in pyrunc/init/apply_security.py.
"""
