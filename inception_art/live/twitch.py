"""Twitch settings, from the environment only.

=====================  ==================================================
``TWITCH_STREAM_KEY``  the stream key (Twitch dashboard, Settings, Stream);
                       needed to stream video
``TWITCH_CHANNEL``     the channel whose chat the bot reads (your account
                       name); without it there is no Twitch chat
``TWITCH_OAUTH``       the bot account's chat token (``oauth:...``);
                       without it the bot only reads, anonymously
``TWITCH_NICK``        the bot account's name (default: the channel)
=====================  ==================================================

Secrets come from the environment rather than the command line so that
they appear neither in the shell history nor in ``ps``-style listings of
this program; none of them is ever logged or shown in the status.
"""
import collections
import os

#: The environment variables read, by role.
ENV = {'key': 'TWITCH_STREAM_KEY', 'channel': 'TWITCH_CHANNEL',
       'token': 'TWITCH_OAUTH', 'nick': 'TWITCH_NICK'}

#: Twitch's ingest (it routes to the nearest server) and chat addresses.
RTMP_URL = 'rtmp://live.twitch.tv/app'
IRC_SERVER = 'ircs://irc.chat.twitch.tv:6697'

TwitchSettings = collections.namedtuple('TwitchSettings', 'key channel token nick')


def from_environment(environ=None, stream=True):
    """Read :data:`ENV` from ``environ`` (default ``os.environ``).

    Parameters
    ----------
    stream : bool
        Whether video will be streamed: then the key is required.

    Raises
    ------
    ValueError
        If the stream key is missing when streaming, or the channel when not
        (chat only needs the channel).
    """
    environ = os.environ if environ is None else environ
    values = {role: (environ.get(name) or '').strip() or None for role, name in ENV.items()}
    if stream and not values['key']:
        raise ValueError('--twitch needs the stream key in the environment variable %s '
                         '(Twitch dashboard: Settings, Stream)' % ENV['key'])
    if not stream and not values['channel']:
        raise ValueError('--twitch-chat-only needs the channel in the environment '
                         'variable %s' % ENV['channel'])
    if values['channel']:
        values['channel'] = values['channel'].lstrip('#').lower()
    values['nick'] = (values['nick'] or values['channel'] or '').lower() or None
    return TwitchSettings(**values)


def stream_url(base, key):
    """The full RTMP address: ``base`` (no trailing slash needed) + key."""
    return base.rstrip('/') + '/' + key


def secrets(settings):
    """The strings that must never be logged."""
    return [s for s in (settings.key, settings.token,
                        settings.token and settings.token.replace('oauth:', '')) if s]
