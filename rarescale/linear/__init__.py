"""Section 3: the linear student on a mixture of tasks (C6-C14).

- :mod:`rarescale.linear.mixture`      the task mixture and its utilities (C6)
- :mod:`rarescale.linear.theory`       the reduction and the utility ranking (C7, C8, C11, C12)
- :mod:`rarescale.linear.student`      the student, trained at many widths in one loop (C6, C14)
- :mod:`rarescale.linear.interference` interference and rare-task retention (C9-C14)
- :mod:`rarescale.linear.stiefel`      random encoders and the C13 random baseline
"""
