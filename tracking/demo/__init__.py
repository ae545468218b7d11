"""The demo store behind `make demo`: a synthetic cross-border shop loaded through the real pipeline.

catalogue.py (products and prices), shoppers.py (markets and people), sessions.py (what each
shopper did, as Segment messages and Amazon report rows), loader.py (putting it all in).
"""
