"""``python -m mailstore``: the service; ``python -m mailstore alias ...``: see cli_aliases."""

import argparse
import sys

from mailstore import cli_aliases
from mailstore.main import run

parser = argparse.ArgumentParser(prog="python -m mailstore", description="Localpost mail store")
commands = parser.add_subparsers(dest="command", metavar="COMMAND")
cli_aliases.add_parser(commands)
arguments = parser.parse_args()
if arguments.command is None:
    run()
else:
    sys.exit(arguments.handler(arguments))
