"""Entry point: `python -m deployers.serving`."""
import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
