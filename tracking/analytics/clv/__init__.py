"""Predicted customer lifetime value: BG/NBD for purchases, Gamma-Gamma for order value."""
