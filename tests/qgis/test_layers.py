"""Styles of loaded outputs live in processing_provider/layers.py, and the post-processors that apply them are
released once they have run (Processing keeps only a pointer to them, so the plugin holds them until then)."""

from __future__ import annotations

from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

from smdownscale.processing_provider import layers


def test_post_processors_style_the_layers_and_are_released(plugin, tmp_path, handle_results):
    project = QgsProject.instance()
    before = len(layers._PENDING)
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    alg = QgsApplication.processingRegistry().createAlgorithmById("smdownscale:sampledata")
    results, ok = alg.run({"SIZE_KM": 20, "N_DATES": 1, "OUTPUT": str(tmp_path / "scene")}, context, feedback)
    assert ok
    assert len(layers._PENDING) == before + 2  # SMAP and truth wait for their style, land cover has none
    try:
        assert handle_results(alg, context, feedback, results)
        smap = project.mapLayersByName("Sample SMAP 2023-06-01")[0]
        renderer = smap.renderer()
        assert renderer.type() == "singlebandpseudocolor"
        assert (renderer.classificationMin(), renderer.classificationMax()) == layers.SM_STYLE_RANGE
        items = renderer.shader().rasterShaderFunction().colorRampItemList()
        assert [i.label for i in items][-1] == "0.450 m³/m³" and len(items) == len(layers.SM_RAMP)
        assert len(layers._PENDING) == before  # both ran, both released
    finally:
        project.removeAllMapLayers()
        project.layerTreeRoot().removeAllChildren()


def test_a_post_processor_for_a_layer_that_failed_to_load_is_released_too():
    before = len(layers._PENDING)
    style = layers.SoilMoistureStyle.create()
    assert len(layers._PENDING) == before + 1
    style.postProcessLayer(None, QgsProcessingContext(), QgsProcessingFeedback())
    assert len(layers._PENDING) == before
