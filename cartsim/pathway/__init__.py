"""cartsim.pathway"""
