"""Practice: practitioners' de-identified outcome reports, their statistics and the checks that
keep patient identifiers out of them.
"""
