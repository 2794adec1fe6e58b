from zqvl.cli.data import main

main()
