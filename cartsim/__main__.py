from cartsim.cli import main

main(prog_name="cartsim")
