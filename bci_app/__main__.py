import sys

from bci_app.cli import main

sys.exit(main())
