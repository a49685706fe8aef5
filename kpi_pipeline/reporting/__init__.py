"""What the owner reads: the scorecard (HTML, terminal, JSON) and the review, in English or Dutch.

``i18n`` holds the words and Babel's number, money and date formats; ``model`` turns snapshots into
the scorecard's sections; ``review`` computes a period's review; ``html`` and ``terminal`` render.
"""
