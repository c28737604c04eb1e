"""The gallery's manifest: what is rendered, with which settings.

``manifest.json`` in the gallery folder has one entry per class, keyed by
its WordNet id: the key of the settings it was rendered with
(:func:`settings_key`), its files, its logit, seconds, worker and date; and
the settings themselves under their keys. A class is *done* for settings
``s`` when its entry has ``s``'s key and its files exist; anything else
(missing, other settings, a deleted file) is rendered again. The file is
rewritten atomically after every picture, so an interrupted run loses at
most the pictures it was rendering.
"""
import hashlib
import json
from pathlib import Path

from ..images import atomic_path

NAME = 'manifest.json'
FORMAT = 1


def settings_key(s):
    """A short, stable key of render settings ``s`` (a mapping): equal
    settings, equal key; any change, another key."""
    text = json.dumps(_plain(s), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _plain(s):
    """Settings as JSON has them (tuples as lists), so that a key made from
    settings read back from the manifest is the same."""
    return json.loads(json.dumps(dict(s)))


class Manifest:
    """The manifest of the gallery in ``folder`` (empty if there is none)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / NAME
        self.classes, self.settings = {}, {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
                if data.get('format') != FORMAT:
                    raise ValueError('format %r' % data.get('format'))
                self.classes, self.settings = data['classes'], data['settings']
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError('%s: not a gallery manifest this version reads (%s); '
                                 'move it away to start afresh' % (self.path, e)) from None

    def done(self, wnid, key):
        """Whether ``wnid`` is rendered with the settings of ``key`` and its
        files are there."""
        entry = self.classes.get(wnid)
        return (entry is not None and entry['settings'] == key
                and all((self.folder / entry[f]).is_file() for f in ('picture', 'thumbnail')))

    def entries(self, key):
        """The entries of the classes done with ``key``, by class index."""
        return sorted((e for w, e in self.classes.items() if self.done(w, key)),
                      key=lambda e: e['index'])

    def add(self, wnid, s, entry):
        """Record ``entry`` (a dict) for ``wnid``, rendered with settings ``s``,
        and write the manifest."""
        key = settings_key(s)
        self.settings[key] = _plain(s)
        self.classes[wnid] = dict(entry, wnid=wnid, settings=key)
        self.save()

    def save(self):
        # Settings no entry uses any more are dropped.
        used = {e['settings'] for e in self.classes.values()}
        data = dict(format=FORMAT, classes=self.classes,
                    settings={k: v for k, v in self.settings.items() if k in used})
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
