import sys

if sys.argv[1:2] == ["report"]:  # python -m detector report ...: an alarm's page
    from detector.runtime import report_cli

    sys.argv = [sys.argv[0], *sys.argv[2:]]
    report_cli.main()
else:  # python -m detector: the worker
    from detector.runtime.cli import main

    main()
