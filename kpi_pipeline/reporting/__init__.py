"""What the owner reads: the scorecard (HTML, terminal, JSON) and the review, in English or Dutch.

``i18n`` holds the words and Babel's number, money and date formats; ``model`` turns snapshots into
the scorecard's sections; ``change`` says when a change is a percentage and when it reads "new" or
"from N" (a tiny base); ``review`` computes a period's review; ``html`` and ``terminal`` render.
"""
