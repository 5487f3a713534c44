"""Read models: the JSON documents that ``slurmhpo status --json`` prints and the dashboard
serves, built in one place so the two can never disagree.

Layer: imported by :mod:`slurmhpo.cli` and :mod:`slurmhpo.dashboard`; imports the store, the
study spec, the scheduling level rules and the controller's pure budget and run-dir helpers.
"""
