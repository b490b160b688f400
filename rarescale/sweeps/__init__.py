"""Sections 4.2-4.4: a grid of pretraining runs read as claims.

- :mod:`.grid`      a sweep's YAML: its cells, their artifacts, and its registered
  :class:`~.grid.Analysis` (the one home of every choice a verdict reads);
- :mod:`.trends`    a sweep's results table: thresholds, size trends, C18-C20's verdicts;
- :mod:`.capacity`  the capacity test (C4 against C5 in pretraining);
- :mod:`.design`    the rules that chose the sweeps' cells from earlier sweeps.
"""
