"""Live mode: ``python -m inception_art.live``, the chat-steered dream.

A web page (``http://127.0.0.1:8080/`` by default) shows the video, the
current subject and a chat box; with ``--twitch`` the same video goes to
Twitch and the bot reads and answers its chat. See :mod:`.app` for how the
parts fit together; each module here is one of them:

==============  =============================================================
``app``         :class:`LiveApp`: configuration, wiring, status
``worker``      the optimiser (or its stand-in) in its own process
``clock``       25 fps: interpolated frames, coasts through a late keyframe
``hub``         each frame encoded once, fanned out through bounded queues
``server``      HTTP: page, MJPEG video, events, chat, status
``events``      chat and subject events for the pages (inert JSON)
``chat``        cleaning viewer text, the request queue and its random pick
``irc``         Twitch chat over IRC
``rtmp``        the stream to Twitch through ffmpeg
``twitch``      Twitch settings from the environment
``watchdog``    restarts a stuck optimiser
``standin``     a network-free keyframe source, named as a stand-in
==============  =============================================================

Importing this package does not import Theano: only the optimiser process
does.
"""
