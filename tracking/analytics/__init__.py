"""Growth analytics on the ground floor: acquisition, money in one currency, LTV/CLV (acquisition side)
and funnels, retention, slots, search, affinity, new products (behaviour side).

Reads tracking's data, writes computed traits onto profiles, imports nothing from the floors above.
"""
