import sys

from lims.cli import main

sys.exit(main())
