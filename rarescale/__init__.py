"""rarescale: an executable reproduction of "Why Larger Models Learn More".

Modules follow the paper's sections:

- :mod:`rarescale.scaling`   section 2, the phenomenological model (C1-C5)
- :mod:`rarescale.stiefel`   random encoders and captured signal (used by C7, C13)
- :mod:`rarescale.artifacts` cached run results keyed by their config
"""

__version__ = "0.1.0"
