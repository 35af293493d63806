"""``python -m fastnst ...``: the same as the ``fastnst`` command."""

from fastnst.app.main import main

main()
