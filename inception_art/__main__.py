"""``python -m inception_art COMMAND ...``: the ``inception-art`` command."""
from .commands import entry_point

entry_point()
