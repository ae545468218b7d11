"""Funnels, retention, slots, search, affinity and new-product models (issue: Growth analytics II)."""
