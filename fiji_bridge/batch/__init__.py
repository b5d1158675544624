"""Batch runs on dask (issue 6): engine.py runs per-file jobs resumably, tasks.py holds the
per-file tasks, commands.py connects them to the command line."""
