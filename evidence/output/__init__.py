"""What leaves the app: citation and report exports, matplotlib charts and forest plots, and
safe download names. Writers stream; charts are drawn on matplotlib's Figure, never pyplot.
"""
