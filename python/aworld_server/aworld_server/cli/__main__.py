"""``python -m aworld_server.cli`` — the same as the ``aworld`` command."""

from aworld_server.cli import main

main()
