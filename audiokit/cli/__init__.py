"""Command line: ``audiokit VERB``; one thin module per verb (no model logic here)."""
