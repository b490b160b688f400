"""Section 4's pipeline: OLMo-2 pretraining with injected tasks (C15-C20).

- :mod:`.tasks` the injected tasks, TCMP and TADD (C15);
- :mod:`.injection` the seeded injection schedule (C16);
- :mod:`.corpus` token corpora in OLMo's format, a tokenizer path, and a generated synthetic web;
- :mod:`.model` the OLMo-2 size ladder (C17);
- :mod:`.train` the run's config and its one training loop (C16-C18);
- :mod:`.analysis` evaluation, probes (C19), gradient interference and forgetting (C20);
- :mod:`.sweep` grids of runs, and their results gathered for chapter 4.
"""
