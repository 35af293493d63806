"""``python -m fastnst ...``: the same as the ``fastnst`` command."""

from __future__ import annotations

from fastnst.app.main import main

if __name__ == "__main__":
    main()
