"""Live mode, the parts without sockets: cleaning chat text, the request
queue and its random pick, inert events, IRC line parsing and sanitising."""
import json

import pytest

from inception_art.live.chat import (MAX_MESSAGE_CHARS, RateLimits, RequestQueue, TokenBucket,
                                     clean_name, clean_text)
from inception_art.live.events import EventBus, encode
from inception_art.live.irc import MAX_LINE_BYTES, one_line, parse_line, parse_server
from inception_art.live import twitch


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_clean_text_removes_controls_and_bounds_length():
    assert clean_text('  volcano\r\nPRIVMSG #x :hi\x00\x1b[31m ') == 'volcano PRIVMSG #x :hi [31m'
    assert clean_text('a\u202eb\u200bc') == 'a b c'          # bidi override, zero width
    assert clean_text('x' * 10**6) == 'x' * MAX_MESSAGE_CHARS
    assert clean_text(b'caf\xc3\xa9 \xff') == 'caf\u00e9 \ufffd'
    assert clean_text(None) == '' and clean_text(42) == ''
    assert clean_text('\U0001F30B volcano') == '\U0001F30B volcano'   # emoji stay


def test_clean_name():
    assert clean_name('Bob_the-2nd') == 'Bob_the-2nd'
    assert clean_name('<script>alert(1)</script>') == 'scriptalert1script'
    assert clean_name('\r\n') == 'viewer'
    assert len(clean_name('n' * 100)) == 25


def test_queue_picks_at_random_every_hold_seconds():
    clock = FakeClock()
    q = RequestQueue(hold=60, seed=1, clock=clock)
    q.changed()                                     # the start subject
    assert q.offer('ann', 'volcano').kind == 'queued'
    assert q.offer('bob', 'tabby + jellyfish').request.classes == (281, 107)
    assert q.due() is None                          # held for 60 s
    clock.now += 59.9
    assert q.due() is None
    clock.now += 0.2
    first = q.due()
    assert first.user in ('ann', 'bob') and len(q) == 1
    assert q.due() is None                          # the next one waits again
    clock.now += 60
    assert q.due().user != first.user and q.due() is None


def test_queue_picks_at_once_after_a_quiet_hold():
    clock = FakeClock()
    q = RequestQueue(hold=60, clock=clock)
    q.changed()
    clock.now += 300
    q.offer('ann', 'volcano')
    assert q.due().classes == (980,)


def test_queue_keeps_one_request_per_viewer_and_is_bounded():
    q = RequestQueue(hold=0, max_queued=3, clock=FakeClock())
    q.offer('ann', 'volcano')
    q.offer('ann', 'jellyfish')
    assert q.snapshot()['waiting'] == ['jellyfish']
    for name in 'bcde':
        q.offer(name, 'daisy')
    assert len(q) == 3


def test_queue_accounts_for_every_request():
    """Each request queued is picked, replaced by the same viewer's next
    one, evicted (the oldest, over max_queued) or still waiting."""
    q = RequestQueue(hold=0, max_queued=3, clock=FakeClock())
    q.offer('ann', 'volcano')
    q.offer('ann', 'jellyfish')                     # replaces ann's volcano
    for name in 'bcde':
        q.offer(name, 'daisy')                      # b evicts ann's, c evicts b's
    q.offer('x', 'no such thing at all')
    picked = q.due()
    a = q.accounts()
    assert (a['queued'], a['unknown'], a['picked'], a['replaced'], a['evicted'],
            a['waiting']) == (6, 1, 1, 1, 2, 2)
    assert a['queued'] == a['picked'] + a['replaced'] + a['evicted'] + a['waiting']
    assert picked.user in 'cde'


def test_unknown_words_get_suggestions_within_a_budget():
    clock = FakeClock()
    q = RequestQueue(suggestions_per_second=1, clock=clock)
    reply = q.offer('ann', 'vulcano')
    assert reply.kind == 'unknown' and 'volcano' in reply.suggestions
    assert 'did you mean volcano' in reply.text
    # Cached: the same word costs nothing and still gets its suggestion.
    assert q.offer('bob', 'vulcano').suggestions == reply.suggestions
    # Over budget: a reply, without the (costly) fuzzy match, for words that
    # do get suggestions when the budget allows.
    typos = ['flamingoo', 'jelyfish', 'strawbery', 'volcanoo', 'penguinn']
    from inception_art import imagenet
    assert all(imagenet.suggest(t, n=3) for t in typos)
    replies = [q.offer('eve', t) for t in typos]
    assert all(r.kind == 'unknown' for r in replies)
    # The bucket holds 2 (a burst of two seconds' worth): 'vulcano' took one,
    # the first typo the other; the rest go without.
    assert replies[0].suggestions and 'did you mean' in replies[0].text
    assert all(not r.suggestions and 'did you mean' not in r.text for r in replies[1:])
    clock.now += 1.0                    # one more fuzzy match is allowed
    assert 'jellyfish' in q.offer('eve', 'jelyfish').suggestions


def test_token_bucket():
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=2, clock=clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert bucket.take() and not bucket.take()


def test_rate_limits_one_bucket_per_key_and_bounded():
    clock = FakeClock()
    limits = RateLimits(rate=1, burst=2, max_keys=2, clock=clock)
    assert [limits.allow('a') for _ in range(3)] == [True, True, False]
    assert limits.allow('b') and limits.allow('b') and not limits.allow('b')
    clock.now += 1.0
    assert limits.allow('a') and not limits.allow('a')
    limits.allow('c')                      # forgets 'b', the least recently used
    assert set(limits.buckets) == {'a', 'c'}
    assert all(RateLimits(None, 1).allow('a') for _ in range(1000))


def test_events_are_inert_json():
    hostile = '</script><img src=x onerror=alert(1)>&amp;\u2028"\''
    data = encode({'type': 'chat', 'text': hostile})
    assert not set('<>&') & set(data) and data.isascii() and '\n' not in data
    assert json.loads(data)['text'] == hostile


def test_event_bus_bounded_private_and_history():
    bus = EventBus(queue_size=5, history=2)
    a, b = bus.subscribe('a'), bus.subscribe('b')
    for i in range(20):
        bus.publish({'n': i})
    assert [json.loads(e)['n'] for e in a.get_all(0)] == list(range(15, 20))
    bus.publish({'secret': 1}, to='b', keep=False)
    assert a.get_all(0) == []
    assert [json.loads(e) for e in b.get_all(0)][-2:] == [{'n': 19}, {'secret': 1}]
    late = bus.subscribe('c')
    assert [json.loads(e)['n'] for e in late.get_all(0)] == [18, 19]


def test_parse_irc_lines():
    m = parse_line('@badge-info=;display-name=Ann\\sB;color=#FF0000 '
                   ':ann!ann@ann.tmi.twitch.tv PRIVMSG #dream :volcano + jellyfish')
    assert m.command == 'PRIVMSG' and m.nick == 'ann'
    assert m.params == ['#dream', 'volcano + jellyfish']
    assert m.tags['display-name'] == 'Ann B'
    assert parse_line('PING :tmi.twitch.tv').params == ['tmi.twitch.tv']
    assert parse_line(':tmi.twitch.tv RECONNECT').command == 'RECONNECT'
    assert parse_line(':srv CAP * ACK :twitch.tv/tags twitch.tv/commands').params[1] == 'ACK'
    assert parse_line('') is None and parse_line('@a=b ') is None


def test_one_line_cannot_inject_and_fits():
    text = one_line('hi\r\nQUIT :bye\r\nPRIVMSG #x :pwned', len('PRIVMSG #c :'))
    assert '\r' not in text and '\n' not in text
    long = one_line('\u00e9' * 1000, 20)
    assert len(long.encode()) <= MAX_LINE_BYTES - 2 - 20
    long.encode('utf-8')            # cut on a character boundary


def test_server_addresses():
    assert parse_server('ircs://irc.chat.twitch.tv:6697') == ('irc.chat.twitch.tv', 6697, True)
    assert parse_server('irc://127.0.0.1:4000') == ('127.0.0.1', 4000, False)
    with pytest.raises(ValueError):
        parse_server('http://x')


def test_twitch_settings_from_environment():
    env = {'TWITCH_STREAM_KEY': 'live_123_abc', 'TWITCH_CHANNEL': '#Dreamer',
           'TWITCH_OAUTH': 'oauth:tok'}
    s = twitch.from_environment(env)
    assert (s.channel, s.nick, s.token) == ('dreamer', 'dreamer', 'oauth:tok')
    assert twitch.stream_url('rtmp://x/app/', s.key) == 'rtmp://x/app/live_123_abc'
    assert 'live_123_abc' in twitch.secrets(s) and 'tok' in twitch.secrets(s)
    with pytest.raises(ValueError, match='TWITCH_STREAM_KEY'):
        twitch.from_environment({})


def test_step_pacer_fits_the_budget_and_recovers_slowly():
    from inception_art.live.worker import StepPacer
    pacer = StepPacer(max_steps=8, min_steps=1, budget=1.5)
    assert pacer.steps == 8
    assert pacer.update(seconds=4.0, steps=8) == 3         # 0.5 s a step
    assert pacer.update(seconds=3.0, steps=3) == 1         # slower: down at once
    assert pacer.update(seconds=0.1, steps=1) == 2         # faster: up slowly
    for _ in range(20):
        steps = pacer.update(seconds=0.1 * pacer.steps, steps=pacer.steps)
    assert steps == 8                                      # capped at max_steps
    assert StepPacer(max_steps=8).update(100.0, 8) == 8    # no budget: fixed
