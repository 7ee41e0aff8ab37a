import sys

if sys.argv[1:2] in (["serve"], ["request"]):  # the retrain service, and a request to it
    from trainer.service_cli import app

    app()
else:  # python -m trainer: train once, announce
    from trainer.cli import main

    main()
