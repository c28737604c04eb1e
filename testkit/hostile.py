"""Hostile chat: what the live mode's chat must take without harm.

Random code points up to U+2FFFF, lone surrogates, control characters and
ANSI escapes, bidi overrides and zero-width characters, CR/LF with IRC
commands, HTML and script, template and SQL injections, huge repeats, and
chat bodies that are not JSON at all or nested 3,000 deep. Used by
``tests/test_live_server.py`` (10,000 messages at once) and by the soak
(:mod:`soak.run`, bursts at random times).
"""
import json

PIECES = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', '&lt;&amp;',
          '\r\nPRIVMSG #chan :pwned\r\n', '\x00\x01\x02\x1b[2J', '\u202e\u200b\ufeff',
          'volcano', ' + ', '+++', 'tabby cat', '\U0001F30B', '\ud800', '%s%n',
          '{{7*7}}', "'; DROP TABLE x; --", 'javascript:alert(1)', '\\u003c', ' ' * 50]
#: Whole bodies that are no chat message.
BAD_BODIES = [b'\xff\xfe garbage', b'{"text": [1,2]}', b'null',
              b'{"text": "' + b'[' * 3000 + b'"}', b'"text"']


def hostile_text(rng, kind):
    """One hostile string; ``kind`` (any int) picks its sort, cycling
    through five: pieces mixed, random code points, a piece repeated,
    random ASCII, and plain requests (some misspelt)."""
    kind %= 5
    if kind == 0:
        return ''.join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))
    if kind == 1:
        return ''.join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(1, 60)))
    if kind == 2:
        return rng.choice(PIECES) * rng.randint(1, 60)
    if kind == 3:
        return ''.join(chr(rng.randint(0, 127)) for _ in range(rng.randint(1, 200)))
    return rng.choice(['volcano', 'jellyfish + daisy', 'vulcano', '980', '1000', '+'])


def hostile_body(rng, i):
    """The body of chat post number ``i``: JSON ``{name, text, client}`` of
    hostile strings (sometimes with raw non-ASCII, sometimes invalid UTF-8
    from lone surrogates), and every 97th one no chat message at all."""
    if i % 97 == 0:
        return rng.choice(BAD_BODIES)
    payload = {'name': hostile_text(rng, i + 1), 'text': hostile_text(rng, i),
               'client': hostile_text(rng, i + 2)}
    try:
        return json.dumps(payload, ensure_ascii=rng.random() < 0.5).encode('utf-8',
                                                                            'surrogatepass')
    except UnicodeEncodeError:
        return json.dumps(payload).encode()


def irc_line(text):
    """``text`` as an IRC client could send it in one line: the protocol
    itself cannot carry CR, LF or NUL, and a line holds 512 bytes."""
    for ch in '\r\n\x00':
        text = text.replace(ch, ' ')
    return text.encode('utf-8', 'replace')[:400].decode('utf-8', 'ignore') or '?'
