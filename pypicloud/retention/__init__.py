"""Retention policies: which old releases go (rules.py), applying them (runner.py), and the
server's scheduled run (schedule.py); ``ppc-retention`` is pypicloud/scripts/retention.py."""
