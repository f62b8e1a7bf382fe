from skelssl.cli import main

main()
