__version__ = "0.1.0"

#: The distribution name on PyPI (``pip install neurojit-kernels``); the import name is ``neurojit``.
#: ``neurojit`` on PyPI is an unrelated project. Every install hint is built from this constant.
DISTRIBUTION = "neurojit-kernels"
