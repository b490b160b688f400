"""rarescale: an executable reproduction of "Why Larger Models Learn More".

The package follows the paper's sections:

- :mod:`rarescale.scaling`   section 2, the phenomenological model (C1-C5)
- :mod:`rarescale.linear`    section 3, the linear student: mixture, theory, interference (C6-C14)
- :mod:`rarescale.olmo`      section 4, OLMo-2 pretraining with injected tasks (C15-C20)
- :mod:`rarescale.advisor`   beyond the paper: a sizing advisor built on C8 and C11 (chapter 5)

with the statistics every verdict uses, the book's machinery and storage:

- :mod:`rarescale.verdicts`   the tests behind every verdict of the claim ledger
- :mod:`rarescale.book`       the chapters' cached experiments, figures, tables and ledger
- :mod:`rarescale.store`      artifacts keyed by their config and code, locks, atomic files
- :mod:`rarescale.validation` constraints as data, and one-line configuration errors
- :mod:`rarescale.counts`     whole counts over steps: injections and evaluation steps
"""

__version__ = "0.1.0"
