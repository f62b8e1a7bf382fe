"""Registry of data sources: `ingest.source` → Source (see `skelssl.data.sources.base`)."""

from __future__ import annotations

from skelssl.data.sources.base import Clip, Source
from skelssl.data.sources.ntu import NTUSource

SOURCES: dict[str, type[Source]] = {
    NTUSource.name: NTUSource,
}

__all__ = ["SOURCES", "Clip", "Source"]
