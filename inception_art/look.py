"""How a picture looks to a person, measured: contrast, colour, thumbnail.

A network judge at full size can be fooled by fine textures that networks
of one family share. A person names a picture by its large-scale structure
and notices a grey one at once. These measures stand in for that look:

* :func:`contrast`: RMS contrast of the luminance (ITU-R BT.601 weights,
  as Pillow's ``'L'`` mode) on the 0..255 scale. Photographs: about 45.
* :func:`colourfulness`: Hasler & Suesstrunk's (2003) metric,
  ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` with
  ``rg = R - G`` and ``yb = (R + G) / 2 - B``; 0 for grey, about 30-60 for
  ordinary photographs.
* :func:`fine_power_share`: the share of the luminance's power above 1/8
  cycle per pixel, the glitter of fine texture.
* :func:`border`: the luminance and saturation of the outer 15% on each
  side: a washed-out ground is bright and grey.
* :func:`thumbnail`: the picture shrunk to 64 pixels on its shorter side and
  enlarged back (bilinear, antialiased): only large-scale structure is left,
  whatever the canvas size. A judge that still names the class names what a
  person glancing at it would see.

``python -m inception_art.look photographs`` measures scikit-image's colour
photographs and writes ``inception_art/data/prior/photographs.json``: the reference ranges the
evaluation sets its pictures beside, the amplitude-spectrum slope that the
Fourier parameterisation (:mod:`inception_art.param`) scales by, and the
decorrelated channels' spectrum, mean and spread that the phase-only image
keeps.
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from . import spectrum
from .cli import ArgumentParser, run_main
from .images import atomic_path, load_rgb
from .prior_file import FOLDER as PRIOR_FOLDER

THUMBNAIL_SIDE = 64
PHOTOGRAPHS_JSON = PRIOR_FOLDER / 'photographs.json'
#: scikit-image's colour photographs of everyday scenes (those the prior
#: is fitted on, and the two it holds out).
PHOTOGRAPHS = ('astronaut.png', 'rocket.jpg', 'motorcycle_left.png',
               'motorcycle_right.png', 'chelsea.png', 'coffee.png')
BT601 = np.array([0.299, 0.587, 0.114])


def contrast(image):
    """RMS contrast (standard deviation) of the luminance, 0..255 scale."""
    return float((np.asarray(image, dtype=np.float64)[..., :3] @ BT601).std())


def colourfulness(image):
    """Hasler & Suesstrunk's colourfulness of an (h, w, 3) 0..255 picture."""
    rgb = np.asarray(image, dtype=np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def fine_power_share(image, cutoff=0.125):
    """The share of the luminance's power (its mean removed, Hann-windowed so
    that the borders add no false edge) above ``cutoff`` cycles per pixel:
    the glitter of fine texture. Photographs: a few percent."""
    lum = np.asarray(image, dtype=np.float64)[..., :3] @ BT601
    h, w = lum.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((lum - lum.mean()) * window)) ** 2
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    return float(power[f > cutoff].sum() / max(power.sum(), 1e-12))


def border(image, share=0.15):
    """``(luminance, saturation)`` of the outer ``share`` of the picture on
    each side, means on the 0..255 and 0..1 scales (HSV saturation): a
    washed-out ground is bright and grey."""
    rgb = np.asarray(image, dtype=np.float64)[..., :3]
    h, w = rgb.shape[:2]
    dy, dx = max(1, round(h * share)), max(1, round(w * share))
    mask = np.ones((h, w), bool)
    mask[dy:h - dy, dx:w - dx] = False
    pixels = rgb[mask]
    high, low = pixels.max(axis=1), pixels.min(axis=1)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0.0)
    return float((pixels @ BT601).mean()), float(saturation.mean())


def thumbnail(image, side=THUMBNAIL_SIDE):
    """Shrink an (h, w, 3) uint8 picture to ``side`` pixels on its shorter
    side and enlarge it back to (h, w), both bilinear (Pillow antialiases
    when it shrinks)."""
    image = np.asarray(image, dtype=np.uint8)
    h, w = image.shape[:2]
    if min(h, w) <= side:
        return image
    small = (max(1, round(w * side / min(h, w))), max(1, round(h * side / min(h, w))))
    im = Image.fromarray(image).resize(small, Image.BILINEAR)
    return np.asarray(im.resize((w, h), Image.BILINEAR))


def measure(image):
    """``{contrast, colourfulness, spectrum_slope, fine_power,
    border_luminance, border_saturation}`` of one picture."""
    luminance, saturation = border(image)
    return dict(contrast=contrast(image), colourfulness=colourfulness(image),
                spectrum_slope=spectrum.slope(image), fine_power=fine_power_share(image),
                border_luminance=luminance, border_saturation=saturation)


def reference(path=PHOTOGRAPHS_JSON):
    """The committed measurements of the photographs (see the module
    docstring); a missing file is a one-line error naming the fix."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError('%s: cannot read the photographs\' measurements (%s); '
                         'run `python -m inception_art.look photographs`'
                         % (path, str(e).splitlines()[0])) from None


def measure_photographs(folder=None, names=PHOTOGRAPHS):
    """Measure scikit-image's photographs; the JSON document of
    :data:`PHOTOGRAPHS_JSON`.

    ``amplitude_slope`` is the median over the photographs of minus half
    the power-spectrum slope: the ``alpha`` of an amplitude spectrum that
    falls as ``1 / f^alpha``.
    """
    if folder is None:
        try:
            import skimage
        except ImportError:
            raise ValueError('scikit-image is not installed; run '
                             '`.venv/bin/pip install -e .[compare]`') from None
        folder = Path(skimage.__file__).parent / 'data'
    pictures = {name: load_rgb(Path(folder) / name) for name in names}
    photos = {name: measure(picture) for name, picture in pictures.items()}
    values = {k: [p[k] for p in photos.values()]
              for k in ('contrast', 'colourfulness', 'fine_power', 'border_luminance',
                        'border_saturation')}
    return dict(
        source='scikit-image %s, skimage/data' % _skimage_version(),
        photographs=photos,
        ranges={k: [min(v), max(v)] for k, v in values.items()},
        amplitude_slope=float(np.median([-p['spectrum_slope'] / 2 for p in photos.values()])),
        decorrelated=decorrelated_statistics(list(pictures.values())),
        made_by='python -m inception_art.look photographs')


#: Radial frequency bins of :func:`decorrelated_statistics`, cycles per
#: pixel: log-spaced from a 512-pixel canvas's lowest to Nyquist.
SPECTRUM_BINS = np.geomspace(1 / 512, 0.5 * np.sqrt(2), 33)


def decorrelated_statistics(pictures):
    """The photographs in the Fourier images' decorrelated colour channels
    (:func:`inception_art.param.colour_matrix`, before the sigmoid): each
    channel's mean and standard deviation over all pixels, and its RMS
    Fourier magnitude (orthonormal FFT, so independent of the size) in
    rings of :data:`SPECTRUM_BINS`; the phase-only image
    (:class:`inception_art.param.PhaseImage`) takes these as its fixed
    magnitude, mean and contrast."""
    from .param import decorrelate
    means, sds, power, counts = [], [], 0, 0
    for picture in pictures:
        channels = decorrelate(picture)                          # (3, h, w)
        means.append(channels.mean(axis=(1, 2)))
        sds.append(channels.std(axis=(1, 2)))
        h, w = channels.shape[1:]
        f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]).ravel()
        ring = np.digitize(f, SPECTRUM_BINS) - 1
        spectrum = np.abs(np.fft.fft2(channels - channels.mean(axis=(1, 2), keepdims=True),
                                      norm='ortho')) ** 2
        keep = (ring >= 0) & (ring < len(SPECTRUM_BINS) - 1)
        sums = np.stack([np.bincount(ring[keep], c.ravel()[keep], len(SPECTRUM_BINS) - 1)
                         for c in spectrum])
        power = power + sums
        counts = counts + np.bincount(ring[keep], minlength=len(SPECTRUM_BINS) - 1)
    magnitude = np.sqrt(power / np.maximum(counts, 1))
    return dict(bins=SPECTRUM_BINS.tolist(), magnitude=magnitude.tolist(),
                mean=np.mean(means, axis=0).tolist(), sd=np.mean(sds, axis=0).tolist(),
                photographs=len(pictures))


def _skimage_version():
    try:
        import skimage
        return skimage.__version__
    except ImportError:
        return 'unknown'


#: Command lines shown at the end of --help.
EXAMPLES = (
    'inception-art look measure picture.png',
    'inception-art look photographs',
)


def main(argv=None):
    p = ArgumentParser(prog='inception-art look', examples=EXAMPLES,
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='command', required=True)
    ph = sub.add_parser('photographs', help='measure scikit-image\'s photographs')
    ph.add_argument('--out', default=str(PHOTOGRAPHS_JSON))
    m = sub.add_parser('measure', help='measure pictures')
    m.add_argument('images', nargs='+')
    args = p.parse_args(argv)
    if args.command == 'photographs':
        doc = measure_photographs()
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + '\n')
        print('%s: amplitude slope %.3f, contrast %.1f..%.1f, colourfulness %.1f..%.1f'
              % ((args.out, doc['amplitude_slope']) + tuple(doc['ranges']['contrast'])
                 + tuple(doc['ranges']['colourfulness'])))
    else:
        for path in args.images:
            values = measure(load_rgb(path))
            print('%s: contrast %.1f, colourfulness %.1f, spectrum slope %.2f'
                  % (path, values['contrast'], values['colourfulness'],
                     values['spectrum_slope']))
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
