"""Registry of data sources: `ingest.source` → Source (see `skelssl.data.sources.base`)."""

from __future__ import annotations

from skelssl.data.sources.base import Clip, Source
from skelssl.data.sources.generic import GenericSource
from skelssl.data.sources.interchange import CtrgcnNpzSource, PysklSource
from skelssl.data.sources.msr_action3d import MSRAction3DSource
from skelssl.data.sources.ntu import NTUSource
from skelssl.data.sources.penn_action import PennActionSource
from skelssl.data.sources.pku_mmd import PKUMMDSource
from skelssl.data.sources.sbu import SBUSource
from skelssl.data.sources.utd_mhad import UTDMHADSource
from skelssl.data.sources.utkinect import UTKinectSource

SOURCES: dict[str, type[Source]] = {
    NTUSource.name: NTUSource,
    MSRAction3DSource.name: MSRAction3DSource,
    UTKinectSource.name: UTKinectSource,
    SBUSource.name: SBUSource,
    GenericSource.name: GenericSource,
    PKUMMDSource.name: PKUMMDSource,
    CtrgcnNpzSource.name: CtrgcnNpzSource,
    PysklSource.name: PysklSource,
    UTDMHADSource.name: UTDMHADSource,
    PennActionSource.name: PennActionSource,
}

__all__ = ["SOURCES", "Clip", "Source"]
