"""cartsim.engine"""
