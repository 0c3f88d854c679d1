"""Judges: expectations -> verdicts (ok / pending / wrong), the gate, waiting, the run's deadline."""
