"""The book's machinery: what the chapters call to show the science, never the reverse.

- :mod:`rarescale.book.experiments` the chapters' cached student sweeps and what is read off them
- :mod:`rarescale.book.plots`       one function per figure of chapters 1-3 and 5
- :mod:`rarescale.book.chapter4`    chapter 4's figures, tables and the sentences under them
- :mod:`rarescale.book.ledger`      the claim ledger: the rows each chapter's verdicts return
- :mod:`rarescale.book.report`      glue and tables for the chapters
- :mod:`rarescale.book.parameters`  what each chapter's parameters may be
- :mod:`rarescale.book.inventory`   the artifacts on disk, for the reproducibility page

No module outside this package imports it (a structure test holds this, with no exception),
and a figure's code is never in the code digest of the numbers it draws.
"""
