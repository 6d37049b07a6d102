"""Subcommands of the ``tinygraph`` command line (see ``tinygraph.cli.SUBCOMMANDS``)."""
