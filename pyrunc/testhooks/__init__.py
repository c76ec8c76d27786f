"""Hooks for pyrunc's own test suite, inert unless a test arms them:
deterministic crash points (crashpoint.py) and hardening guards that a
replay test may switch off (guards.py). Import-light: the child uses both.
"""
