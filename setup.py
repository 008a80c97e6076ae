from setuptools import find_packages, setup

setup(
    name='saliency_ext',
    version='0.1.0',
    description='Saliency maps for Chainer models, computed while they train',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['saliency_ext', 'saliency_ext.*']),
    package_data={'saliency_ext': ['datasets/data/*.csv', 'datasets/data/*.md']},
    python_requires='>=3.8',
    install_requires=[
        'chainer>=7.8,<8',
        'numpy<2',
        'tqdm>=4.60',
    ],
    entry_points={
        'console_scripts': ['saliency-replay=saliency_ext.replay.cli:main'],
    },
    extras_require={
        'visualize': ['matplotlib>=3.7', 'pillow>=10.1', 'rdkit>=2023.9', 'isal>=1.6'],
        'tensorboard': ['tensorboardX>=2.6', 'tensorboard>=2.14', 'crc32c>=2.3'],
        'mpi': ['mpi4py>=4.0'],  # and an MPI: the mpich wheel or the system's
    },
)
