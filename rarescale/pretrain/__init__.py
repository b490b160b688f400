"""Section 4.1: one OLMo-2 pretraining run with injected tasks (C15-C17; the measures of C19, C20).

Modules in the order a run's data flows through them:

- :mod:`.tasks`       the injected tasks, one class per kind: TCMP and TADD (C15);
- :mod:`.config`      a run's :class:`~.config.RunConfig`, built once from YAML and passed;
- :mod:`.corpus`      token corpora in OLMo's format, tokenizers, a generated synthetic web;
- :mod:`.natural`     the natural-text corpus built from Debian's documentation packages;
- :mod:`.injection`   the seeded injection schedule (C16);
- :mod:`.data`        a run's corpus, tasks and each step's batch with its injections;
- :mod:`.model`       the OLMo-2 size ladder (C17);
- :mod:`.step`        loss, optimizer, schedule and the one optimizer step;
- :mod:`.train`       the training loop, read top to bottom;
- :mod:`.measures`    the evaluators the loop calls: evaluation, probes (C19), interference
  and forgetting (C20);
- :mod:`.checkpoint`  checksummed checkpoints and exact resume;
- :mod:`.placement`   processes, devices and the process group;
- :mod:`.memory`, :mod:`.sharding`, :mod:`.throughput`  GPU micro-batches, FSDP2, FLOPs.
"""
