"""cartsim.scenario"""
