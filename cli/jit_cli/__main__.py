from jit_cli.main import main

main()
