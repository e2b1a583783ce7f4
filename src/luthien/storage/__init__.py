"""Records storage: the writer that keeps every call and the queries that read them back.

The app uses `open_storage(settings)`; see `luthien.storage.service`.
"""

from luthien.storage.service import Storage, open_storage
from luthien.storage.writer import RecordWriter, WriterStats

__all__ = ["RecordWriter", "Storage", "WriterStats", "open_storage"]
