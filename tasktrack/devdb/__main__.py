import sys

from tasktrack.devdb import main

sys.exit(main())
