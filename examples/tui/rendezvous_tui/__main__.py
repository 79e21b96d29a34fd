from rendezvous_tui.cli import main

raise SystemExit(main())
