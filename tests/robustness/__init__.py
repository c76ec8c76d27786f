"""Robustness suite (issue 9): pyrunc killed mid-operation, raced, and fed
hostile input must lose nothing and leave nothing behind."""
