#!/usr/bin/env python
"""Entry point kept at the top of the repository (``python cli.py ...``); the click commands live in
``pyro_can/cli.py`` so the installed ``pyro-can`` console script runs the same code."""
from pyro_can.cli import main

if __name__ == "__main__":
    main()
