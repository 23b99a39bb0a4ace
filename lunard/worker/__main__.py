"""`python -m lunard.worker`: see `lunard.worker.main`."""

from lunard.worker.main import main

raise SystemExit(main())
