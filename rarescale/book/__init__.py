"""The book's machinery: what the chapters call to show the science, never the reverse.

- :mod:`rarescale.book.experiments` the chapters' cached student sweeps and what is read off them
- :mod:`rarescale.book.plots`       one function per figure of chapters 1-3 and 5
- :mod:`rarescale.book.ledger`      the claim ledger: the rows each chapter's verdicts return
- :mod:`rarescale.book.report`      glue and tables for the chapters
- :mod:`rarescale.book.parameters`  what each chapter's parameters may be
- :mod:`rarescale.book.inventory`   the artifacts on disk, for the reproducibility page

No module of the science (:mod:`rarescale.scaling`, :mod:`rarescale.linear`,
:mod:`rarescale.olmo`'s runs and measures, :mod:`rarescale.advisor`) imports this package, and
a figure's code is never in the code digest of the numbers it draws.
"""
