"""Streaming ingest of the annotation JSON into staged Parquet."""

import os

# Arrow's C++ default memory pool is chosen once, when pyarrow loads, and Arrow's own internals (JSON reader,
# Parquet writer, kernels) allocate from it whatever `pa.set_memory_pool` says later. mimalloc, the default,
# keeps ~20 MiB committed after a stage; glibc's allocator returns it. Effective only if pyarrow was not
# imported before this package (the staging workers get it from their environment either way).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
