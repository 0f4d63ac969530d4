"""One module per ``bci-app`` subcommand: ``NAME``, ``HELP``, ``add_arguments(parser)``, ``run(args)``."""
