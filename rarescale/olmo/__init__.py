"""Section 4's pipeline: OLMo-style pretraining with injected tasks (C15-C17).

This package holds the data side so far: the injected tasks (:mod:`.tasks`, C15),
the injection schedule (:mod:`.injection`, C16) and token corpora in OLMo's format
with a generated default (:mod:`.corpus`). The model, the training loop and the
analyses of C18-C20 are not written yet.
"""
