"""The WordNet table and the gallery's class sets."""
from pathlib import Path

import pytest

from inception_art import imagenet, wordnet


def test_the_committed_table_is_what_debians_wordnet_gives(tmp_path):
    # make test installs wordnet-base (Princeton WordNet 3.0) for this.
    assert wordnet.build_table(wordnet.DEBIAN_WORDNET) == wordnet.TABLE.read_text()


def test_every_class_reaches_entity():
    for wnid in imagenet.WNIDS:
        assert 'n00001740' in wordnet.ancestors(wnid), wnid
    # No class is above another: each is its own subtree.
    for index, wnid in enumerate(imagenet.WNIDS[:50]):
        assert wordnet.subtree(wnid) == [index]


def test_subtrees():
    # ImageNet's dog breeds are the block 151..268, Chihuahua to Mexican hairless.
    assert wordnet.subtree('dog') == list(range(151, 269))
    assert wordnet.subtree('n02084071') == wordnet.subtree('Domestic Dog')
    assert wordnet.subtree('domestic cat') == [281, 282, 283, 284, 285]
    assert set(wordnet.subtree('fish')) >= {1, 391}      # goldfish, coho
    assert 107 not in wordnet.subtree('fish')             # a jellyfish is no fish
    assert wordnet.subtree('volcano') == [980]
    assert wordnet.synsets('dog') == ['n02084071']        # not a hotdog nor a pawl
    assert wordnet.name('n02084071') == 'dog'


def test_class_sets():
    assert wordnet.class_set('all') == list(range(1000))
    spread = wordnet.class_set('all', count=48)
    assert len(spread) == 48 and spread[0] == 0 and spread[-1] < 1000
    assert {b - a for a, b in zip(spread, spread[1:])} <= {20, 21}
    assert wordnet.class_set('all', 4) == [0, 250, 500, 750]
    assert wordnet.class_set('4') == [4]                  # a number is a class, not a count
    dogs = wordnet.class_set('dog')
    assert wordnet.class_set('dog', 3) == [dogs[0], dogs[len(dogs) // 3], dogs[2 * len(dogs) // 3]]
    assert wordnet.class_set(' volcano, tabby,980 ,') == [281, 980]
    assert wordnet.class_set('domestic cat,7') == [7, 281, 282, 283, 284, 285]


@pytest.mark.parametrize('text, message', [
    ('crane', "'crane' names 2 WordNet synsets: n02012849 crane (a kind of wading bird; "
              "1 class) | n03126707 crane (a kind of lifting device; 1 class)"),
    ('dogz', "unknown ImageNet class 'dogz'"),
    ('1000', 'index 1000 is out of range'),
    ('volcano,1000', 'index 1000 is out of range'),
    (',', 'no classes given'),
])
def test_bad_class_sets(text, message):
    with pytest.raises(ValueError) as e:
        wordnet.class_set(text)
    assert message in str(e.value) and '\n' not in str(e.value)


def test_bad_class_counts():
    with pytest.raises(ValueError, match='a count of classes must be 1..1000, got 0'):
        wordnet.class_set('all', 0)
    with pytest.raises(ValueError, match='must be 1..2, got 3'):
        wordnet.class_set('volcano,tabby', 3)


def test_a_missing_database_is_one_line(tmp_path):
    with pytest.raises(OSError, match='no WordNet 3.0 database there; install Debian'):
        wordnet.build_table(tmp_path)


def test_remade_by_the_command(tmp_path):
    from inception_art.cli import run_main
    out = tmp_path / 'table.tsv'
    assert run_main(wordnet.main, ['--out', str(out)]) == 0
    assert out.read_text() == Path(wordnet.TABLE).read_text()
