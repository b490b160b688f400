"""Section 4's pipeline: OLMo-2 pretraining with injected tasks (C15-C20).

Modules in the order a run's data flows through them:

- :mod:`.tasks` the injected tasks, one class per kind: TCMP and TADD (C15);
- :mod:`.config` a run's :class:`~.config.RunConfig`, one object from YAML to the loop;
- :mod:`.corpus` token corpora in OLMo's format, a tokenizer path, and a generated synthetic web;
- :mod:`.injection` the seeded injection schedule (C16);
- :mod:`.data` a run's corpus, tasks and each step's batch with its injections;
- :mod:`.model` the OLMo-2 size ladder (C17);
- :mod:`.step` loss, optimizer, schedule and the one optimizer step;
- :mod:`.train` the training loop, with checkpoints and exact resume;
- :mod:`.measures` evaluation, probes (C19), gradient interference and forgetting (C20);
- :mod:`.grid` grids of runs (a sweep's YAML) and their artifacts;
- :mod:`.ladder` a grid's results: thresholds, trends and chapter 4's verdicts;
- :mod:`.figures` chapter 4's figures.
"""
