"""cartsim.engine"""
ENGINES = ("compiled", "simpy")
"""Engines that interpret a pathway: the compiled kernel (the default: it values as it
simulates) and simpy (the reference implementation)."""
