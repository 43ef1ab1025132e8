"""Factor-noise augmentation: the 1 km noise of each factor is measured, and models fitted on noisy copies of
the SMAP-cell samples stop following that noise at 1 km."""

from __future__ import annotations

import numpy as np
import pytest

from smdownscale.algorithms import raster
from smdownscale.algorithms.downscale import downscale
from smdownscale.algorithms.errors import Canceled, InputError
from smdownscale.algorithms.features import FactorSpec, fine_noise
from smdownscale.algorithms.train import TrainRequest, train_model
from smdownscale.tests.scenes import DATES, make_scene

VV_NOISE = 0.08


def _noisy_vv(fields, sm, fine, coarse, rng):
    """A radar-like factor: 1 km soil moisture (0.1 + 0.5 ndvi) plus white speckle of VV_NOISE."""
    truth = 0.1 + 0.5 * np.nan_to_num(fields["ndvi"], nan=0.4)
    return {"vv": truth + rng.normal(0.0, VV_NOISE, truth.shape)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(str(tmp_path_factory.mktemp("noise")), dates=DATES, seed=5, landcover=False,
                      extra=_noisy_vv)


def test_fine_noise_measures_white_noise_and_not_smooth_fields(tmp_path, scene):
    specs = [FactorSpec("ndvi", "continuous", []), FactorSpec("vv", "continuous", []),
             FactorSpec("lst_day", "continuous", [])]
    noise = fine_noise(scene["stacks"], specs)
    assert noise["vv"] == pytest.approx(VV_NOISE, rel=0.1)
    # the smooth fields (ranges 0.7 and 40 K) show only their gradient between neighbours
    assert noise["ndvi"] < 0.025 and noise["lst_day"] < 0.025 * 40.0
    assert fine_noise(scene["stacks"][:1], [FactorSpec("lc", "categorical", [1, 2])]) == {"lc": 0.0}


def test_fine_noise_can_be_canceled(scene):
    with pytest.raises(Canceled):
        fine_noise(scene["stacks"], [FactorSpec("vv", "continuous", [])], is_canceled=lambda: True)


def test_augmented_model_does_not_follow_the_noise_at_1km(tmp_path, scene):
    """At SMAP cells vv is soil moisture itself (its speckle averages out); at 1 km it carries noise of 0.08.
    Without augmentation the forest follows vv and its noise; with it, it learns to lean on ndvi."""
    stack = scene["stacks"][0]
    ndvi = raster.read_all(stack, dtype=np.float64)[0]
    truth = 0.1 + 0.5 * ndvi
    err = {}
    for aug in (0.0, 0.75):
        model = str(tmp_path / f"m{aug}.smdmodel")
        res = train_model(TrainRequest(scene["sm"], scene["stacks"], model, "rf", factors=["ndvi", "vv"], cv_folds=0,
                                       n_jobs=1, params={"n_estimators": 40}, noise_augmentation=aug))
        out = str(tmp_path / f"sm{aug}.tif")
        downscale(model, stack, out, residual="none", n_jobs=1)
        pred = raster.read_all(out, dtype=np.float64)[0]
        ok = np.isfinite(pred) & np.isfinite(truth)
        err[aug] = float(np.sqrt(np.mean((pred[ok] - truth[ok]) ** 2)))
        meta = res.meta["noise_augmentation"]
        if aug:
            assert meta["copies"] == 5 and meta["scale"] == 0.75
            assert meta["factor_noise_sd"]["vv"] == pytest.approx(VV_NOISE, rel=0.1)
        else:
            assert meta is None
    assert err[0.0] > 0.02 and err[0.75] < 0.4 * err[0.0]  # measured: 0.028 and 0.006


@pytest.mark.parametrize("bad", [-0.1, 6.0, float("nan")])
def test_bad_augmentation_is_refused(tmp_path, scene, bad):
    with pytest.raises(InputError, match="factor noise augmentation must be between 0"):
        train_model(TrainRequest(scene["sm"], scene["stacks"], str(tmp_path / "m.smdmodel"), noise_augmentation=bad))
    assert not list(tmp_path.iterdir())


def test_large_training_sets_get_fewer_copies(monkeypatch):
    from smdownscale.algorithms import train as tr

    class _Pairs:
        specs = [FactorSpec("vv", "continuous", []), FactorSpec("lc", "categorical", [1, 2])]
        stack_paths: list = []

    monkeypatch.setattr(tr, "fine_noise", lambda paths, specs, is_canceled=None: {"vv": 2.0, "lc": 0.0})
    for n, copies in ((1000, 5), (100_000, 2), (400_000, 1)):
        p = _Pairs()
        p.y = np.zeros(n)
        aug, meta = tr.make_augmentation(p, 0.5)
        assert aug.copies == meta["copies"] == copies
        np.testing.assert_array_equal(aug.sd, [1.0, 0.0, 0.0])  # 0.5 x vv's noise; class fractions none
    x, y = tr.make_augmentation(p, 0.5)[0].apply(np.zeros((3, 3)), np.arange(3.0), seed=0)
    assert x.shape == (3, 3) and np.all(x[:, 1:] == 0) and 0.3 < np.std(x[:, 0]) < 3.0
