"""The plugin loads as QGIS loads it and registers its provider and algorithms."""

from qgis.core import QgsApplication

from smdownscale.processing_provider.provider import ALGORITHMS


def test_provider_registered(plugin):
    provider = QgsApplication.processingRegistry().providerById("smdownscale")
    assert provider is not None
    assert provider.name() == "Soil moisture downscaling"
    ids = sorted(a.id() for a in provider.algorithms())
    # the Python algorithms and the shipped workflow model (models/*.model3)
    assert ids == sorted([f"smdownscale:{m}" for m, _ in ALGORITHMS] + ["smdownscale:workflow"])
