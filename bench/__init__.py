"""Encore's benchmark (``make bench``): bench/run.py and the modules it loads.

Nothing in the product imports this package; its settings and URLs are loaded only by
the benchmark's own gunicorn servers.
"""
