"""The zooming dream as a video: ``python -m inception_art.video``.

Data flows down the list:

===============  ============================================================
``dream``        the keyframe loop: each keyframe the last one zoomed forward,
                 then optimised by the stills' step (:mod:`inception_art.loop`)
``zoom``         the zoom and rotation geometry, and the warp
``interpolate``  the frames between two keyframes (cross-fade of the two,
                 zoomed), with the subject's text
``encode``       raw frames into the bundled ffmpeg: mp4, GIF, or RTMP (live)
``film``         a whole film: keyframes on a subject schedule, frames, file
``__main__``     the command: its flags, checks and defaults
===============  ============================================================

The live mode (:mod:`inception_art.live`) drives the same dream, zoom,
interpolation and encoder.
"""
