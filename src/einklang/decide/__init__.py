"""Decisions people take: one implementation shared by the command line, the web app and the API.

:mod:`~einklang.decide.conflicts` decides conflicts; duplicate-review decisions go through
:func:`einklang.importer.apply.apply_review_rows`, the code ``review apply`` runs for a file.
"""
