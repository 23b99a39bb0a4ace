from lunard.cli import main

raise SystemExit(main())
