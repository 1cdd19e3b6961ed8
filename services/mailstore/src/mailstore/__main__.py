from mailstore.cli import main

raise SystemExit(main())
