"""cartsim.outcomes"""
