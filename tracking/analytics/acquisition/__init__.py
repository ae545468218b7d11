"""Acquisition: touches and the channel taxonomy, attribution, partners, ad spend, figures."""
