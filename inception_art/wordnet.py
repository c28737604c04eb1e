"""The WordNet hierarchy above the 1000 ImageNet classes, and sets of classes.

Every ImageNet-1k class is a WordNet 3.0 noun synset (its WordNet id is
``n`` + the synset's offset). ``data/imagenet_wordnet.tsv`` holds, for each
class and each synset above one, its hypernyms and its lemmas: about 1900
rows, read without any WordNet package. It is made from Debian's
``wordnet-base`` (Princeton WordNet 3.0, the version ImageNet was built
on) by ``python -m inception_art.wordnet`` (``make wordnet``); the PyPI
WordNet readers (``nltk``, ``wn``) download their data at run time, which
cannot work offline.

:func:`class_set` reads the gallery's class sets: ``all``, a list, or a
subtree (``dog``: every dog breed), and a count of them spread evenly.

Examples
--------
>>> len(subtree('dog'))
118
>>> class_set('volcano')
[980]
"""
import argparse
import functools
import sys
from pathlib import Path

from . import imagenet
from .cli import ArgumentParser, run_main
from .imagenet import UnknownClassError

TABLE = Path(__file__).parent / 'data' / 'imagenet_wordnet.tsv'
#: Where Debian's ``wordnet-base`` puts the WordNet 3.0 database.
DEBIAN_WORDNET = Path('/usr/share/wordnet')
#: The noun pointers that lead up: hypernym and instance hypernym.
UP = ('@', '@i')
_MAX_LISTED = 5


def _read_table(path=TABLE):
    """``{wnid: (hypernyms, lemmas)}`` from the committed table."""
    table = {}
    for line in path.read_text(encoding='utf-8').splitlines():
        if not line or line.startswith('#'):
            continue
        wnid, up, lemmas = line.split('\t')
        table[wnid] = (tuple(up.split(',')) if up else (), tuple(lemmas.split(';')))
    missing = set(imagenet.WNIDS) - set(table)
    if missing:
        raise RuntimeError('%s lacks %d ImageNet classes' % (path, len(missing)))
    return table


@functools.cache
def _tables():
    """The table, the classes under each synset, and synsets by lemma
    (read once, when first asked: remaking the table needs none of it)."""
    synsets = _read_table()
    under = {w: [] for w in synsets}
    for index, wnid in enumerate(imagenet.WNIDS):
        for w in _ancestors(synsets, wnid) | {wnid}:
            under[w].append(index)
    by_lemma = {}
    for wnid, (_, lemmas) in synsets.items():
        for rank, lemma in enumerate(lemmas):
            by_lemma.setdefault(imagenet.name_key(lemma), []).append((rank, wnid))
    return synsets, under, by_lemma


def _ancestors(synsets, wnid):
    seen, todo = set(), list(synsets[wnid][0])
    while todo:
        w = todo.pop()
        if w not in seen:
            seen.add(w)
            todo.extend(synsets[w][0])
    return seen


def ancestors(wnid):
    """Every synset above ``wnid`` (all hypernym paths), not itself."""
    return _ancestors(_tables()[0], wnid)


def name(wnid):
    """A synset's first lemma: ``'dog'`` for ``n02084071``."""
    return _tables()[0][wnid][1][0]


def synsets(text):
    """The synsets ``text`` names by WordNet id or lemma: those whose first
    lemma it is if any, else all those with it among their lemmas."""
    table, _, by_lemma = _tables()
    key = text.strip().lower()
    if key in table:
        return [key]
    found = by_lemma.get(imagenet.name_key(text), [])
    first = [w for rank, w in found if rank == 0]
    return sorted(first or [w for _, w in found])


def subtree(text):
    """The classes (indices, ascending) under the synset ``text`` names.

    A class's own name gives that class. A name no synset has goes to
    :func:`inception_art.imagenet.resolve` (labels, synonyms, label
    words), whose error lists the closest matches.

    Raises
    ------
    UnknownClassError
        An unknown name, or one that names several synsets (listed, with
        their WordNet ids to choose by).
    """
    table, under, _ = _tables()
    found = synsets(text)
    if not found:
        return [imagenet.resolve(text)]
    if len(found) > 1:
        shown = ' | '.join(
            '%s %s (a kind of %s; %d class%s)'
            % (w, name(w), ' and '.join(name(u) for u in table[w][0]) or 'nothing',
               len(under[w]), '' if len(under[w]) == 1 else 'es')
            for w in found[:_MAX_LISTED])
        raise UnknownClassError('%r names %d WordNet synsets: %s; give the WordNet id'
                                % (text.strip(), len(found), shown))
    return list(under[found[0]])


def spread(count, classes=None):
    """``count`` of ``classes`` (default: the 1000) spread evenly over
    them: the first and every len/count-th after it."""
    classes = list(range(imagenet.NUM_CLASSES)) if classes is None else list(classes)
    if not 1 <= count <= len(classes):
        raise ValueError('a count of classes must be 1..%d, got %d' % (len(classes), count))
    return [classes[i * len(classes) // count] for i in range(count)]


def class_set(text, count=None):
    """The classes a gallery's ``--classes`` names, ascending, without
    repeats; with ``count`` (``--class-count``), that many of them spread
    evenly (:func:`spread`).

    Parameters
    ----------
    text : str
        ``all``; a subtree (``dog``, ``n02084071``; a class alone is its own
        subtree); or a comma-separated list of classes and subtrees
        (``volcano,tabby,980``: a number is a class index).
    count : int, optional

    Raises
    ------
    ValueError
        One line: an unknown or ambiguous name, a count out of range.
    """
    text = text.strip()
    if text.lower() == 'all':
        classes = list(range(imagenet.NUM_CLASSES))
    else:
        parts = [p.strip() for p in text.split(',')]
        if not any(parts):
            raise ValueError('no classes given: name all, a list or a subtree')
        found = set()
        for part in filter(None, parts):
            found.update([imagenet.resolve(part)] if part.isdigit() else subtree(part))
        classes = sorted(found)
    return classes if count is None else spread(count, classes)


# --------------------------------------------------------- the table, made --

def _parse_data(path):
    """``{wnid: (hypernyms, lemmas)}`` of every noun synset in a WordNet
    ``data.noun`` file, and its licence lines."""
    synsets, licence = {}, []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('  '):
                # The header: the licence, which must travel with the data.
                licence.append(line.split(' ', 3)[-1].rstrip())
                continue
            fields = line.split(' | ')[0].split()
            count = int(fields[3], 16)
            lemmas = [fields[4 + 2 * i].replace('_', ' ') for i in range(count)]
            at = 4 + 2 * count
            pointers = fields[at + 1:at + 1 + 4 * int(fields[at])]
            up = ['n' + pointers[i + 1] for i in range(0, len(pointers), 4)
                  if pointers[i] in UP and pointers[i + 2] == 'n']
            synsets['n' + fields[0]] = (up, lemmas)
    return synsets, licence


def build_table(folder=DEBIAN_WORDNET):
    """The text of ``data/imagenet_wordnet.tsv`` from a WordNet 3.0 database
    folder: the classes and every synset above them, sorted by WordNet id."""
    data = Path(folder) / 'data.noun'
    if not data.is_file():
        raise OSError('%s: no WordNet 3.0 database there; install Debian\'s '
                      'wordnet-base (make wordnet) or give --wordnet DIR' % data)
    synsets, licence = _parse_data(data)
    keep, todo = set(), list(imagenet.WNIDS)
    while todo:
        w = todo.pop()
        if w not in keep:
            if w not in synsets:
                raise ValueError('%s: ImageNet synset %s is not in it; is it WordNet 3.0?'
                                 % (data, w))
            keep.add(w)
            todo.extend(synsets[w][0])
    lines = ['# The WordNet 3.0 noun synsets of the 1000 ImageNet-1k classes and every',
             '# synset above them: WordNet id, hypernyms (and instance hypernyms), lemmas.',
             '# Made by python -m inception_art.wordnet from %s.' % data.name,
             '# It is WordNet data, under its licence:']
    lines += ['#   ' + text if text else '#' for text in licence]
    for w in sorted(keep):
        up, lemmas = synsets[w]
        if any(';' in lemma for lemma in lemmas):
            raise ValueError('%s: a lemma of %s has a ";"' % (data, w))
        lines.append('%s\t%s\t%s' % (w, ','.join(up), ';'.join(lemmas)))
    return '\n'.join(lines) + '\n'


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art wordnet',
)


def main(argv=None):
    p = ArgumentParser(prog='inception-art wordnet', examples=EXAMPLES,
                       description='Remake %s from a WordNet 3.0 database.' % TABLE.name)
    p.add_argument('--wordnet', default=str(DEBIAN_WORDNET),
                   help='the database folder (default: Debian wordnet-base\'s, %(default)s)')
    p.add_argument('--out', default=str(TABLE), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    from .images import atomic_path
    text = build_table(args.wordnet)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding='utf-8')
    print('%s: %d synsets' % (args.out, sum(not line.startswith('#')
                                             for line in text.splitlines())))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
