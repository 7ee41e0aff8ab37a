from detector.runtime.cli import main

main()
