"""rarescale: an executable reproduction of "Why Larger Models Learn More".

Modules follow the paper's sections:

- :mod:`rarescale.scaling`      section 2, the phenomenological model (C1-C5)
- :mod:`rarescale.mixture`      section 3's task mixture (C6)
- :mod:`rarescale.theory`       section 3.1, the reduction and the utility ranking (C7, C8)
- :mod:`rarescale.student`      the student, trained at many widths in one loop (C6, C14)
- :mod:`rarescale.interference` section 3.2, interference and rare-task retention (C9-C14)
- :mod:`rarescale.stiefel`      random encoders and the C13 random baseline
- :mod:`rarescale.experiments`  the chapters' cached student sweeps and what is read off them
- :mod:`rarescale.advisor`      a sizing advisor built on C8 and C11 (chapter 5)
- :mod:`rarescale.olmo`         section 4, OLMo-2 pretraining with injected tasks (C15-C20)

and the book's apparatus:

- :mod:`rarescale.plots`        one function per figure of the book
- :mod:`rarescale.report`       glue and tables for the chapters
- :mod:`rarescale.artifacts`    cached run results keyed by their config and code
- :mod:`rarescale.parameters`   what each chapter's parameters may be
- :mod:`rarescale.validation`   constraints as data, and one-line configuration errors
- :mod:`rarescale.counts`       whole counts over steps: injections and evaluation steps
- :mod:`rarescale.locks`        file locks for files several processes share
"""

__version__ = "0.1.0"
