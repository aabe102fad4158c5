#!/usr/bin/env python
"""Entry point kept at the top of the repository (``python cli.py ...``); the click group lives in
``pyro_can/cli.py`` (its commands in ``pyro_can/cli_*.py``) so the installed ``pyro-can`` console
script runs the same code."""
from pyro_can.cli import main

if __name__ == "__main__":
    main()
