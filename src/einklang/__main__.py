from einklang.cli import main

main()
