from zqvl.data.cli import main

main()
