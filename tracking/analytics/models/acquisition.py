"""Acquisition, money, LTV and CLV models (issue: Growth analytics I)."""
