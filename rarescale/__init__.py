"""rarescale: an executable reproduction of "Why Larger Models Learn More".

Modules follow the paper's sections:

- :mod:`rarescale.scaling`      section 2, the phenomenological model (C1-C5)
- :mod:`rarescale.mixture`      section 3's task mixture (C6)
- :mod:`rarescale.theory`       section 3.1, the reduction and the utility ranking (C7, C8)
- :mod:`rarescale.student`      the student, trained at many widths in one loop (C6, C14)
- :mod:`rarescale.interference` section 3.2, interference and rare-task retention (C9-C14)
- :mod:`rarescale.experiments`  the chapters' default configs and cached runs
- :mod:`rarescale.advisor`      a sizing advisor built on C8 and C11 (chapter 5)
- :mod:`rarescale.stiefel`      random encoders and captured signal (C7, C13)
- :mod:`rarescale.plots`        one function per figure of the book
- :mod:`rarescale.artifacts`    cached run results keyed by their config
"""

__version__ = "0.1.0"
