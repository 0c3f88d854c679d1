"""The change-ticket report: one HTML (pytest-html), one JUnit XML and one JSON summary per run.

A reviewer who was not there reads the verdict first (gate, cook, postdeploy), then one line per
Target, then each check with the evidence its assertion used. Every output is redacted and then
scanned for the run's secrets. `plugin.py` holds the pytest glue; the other modules each do one job.
"""
