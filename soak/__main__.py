"""``python -m soak``: the soak's command (:func:`soak.run.main`)."""
from soak.run import main

raise SystemExit(main())
