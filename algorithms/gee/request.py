"""Request objects of the Earth Engine chain: what to fetch or downscale, and how to run it.

The project's :class:`.expressions.BuildOptions` is the pattern: one dataclass per kind of choice instead of a
long keyword list passed from function to function. They hold plain values and check nothing when built;
the function that takes them checks them (and raises :class:`..errors.InputError` with the fix), so a wrapper
can build a request outside its error mapping.

* :class:`Connection`: which Earth Engine project, credentials and endpoint (:func:`.auth.initialize`);
* :class:`AreaRequest`: area, dates, time step, factors, SMAP product and the fine grid, shared by
  :class:`FetchRequest` (:func:`.fetch.fetch`) and :class:`DownscaleRequest` (:func:`.server.plan_downscale`);
* :class:`FetchOptions`: how :func:`.fetch.fetch` transfers (workers, cache, exports, limits, dry run);
* :class:`TaskRun`: how export tasks are submitted and followed (:func:`.tasks.submit_batches`,
  :func:`.pipeline.downscale_gee`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ..options import EE_RESIDUAL_MODES

#: Interactive download limit of one time step (all bands, float32), see :class:`FetchOptions`.
MAX_INTERACTIVE_BYTES = 2 * 2**30
#: Default clip range of downscaled soil moisture (m3/m3).
DEFAULT_CLIP = (0.0, 0.6)
#: maxPixels of every export (Earth Engine's default, 1e8, stops province-scale exports).
DEFAULT_MAX_PIXELS = 1e13


@dataclass
class Connection:
    """How to reach Earth Engine: see :func:`.auth.initialize`.

    ``credentials``: None or "persistent" (stored by ``earthengine authenticate``), a service-account key (the
    JSON file's content as a dict) or a google-auth credentials object. ``url``: the endpoint (default:
    $SMDOWNSCALE_EE_URL, else the public one).
    """

    project: Optional[str] = None
    credentials: Any = field(default=None, repr=False)
    url: Optional[str] = None


@dataclass
class AreaRequest:
    """Where and when: the area, the dates, the time step, the factors, SMAP, and the fine grid.

    ``area``: an extent ``(xmin, ymin, xmax, ymax, crs)``, or a GeoJSON polygon with ``area_crs``.
    ``start``/``end``: dates (inclusive; ``datetime.date`` or ISO text). ``step``: daily, 8day, 16day or monthly
    (:func:`.expressions.time_steps`). ``factors``: catalog ids (:mod:`.catalog`), ``sources`` choosing among an
    entry's sources. The fine grid is ``target_crs`` at ``fine_resolution`` over SMAP's cells;
    ``window_days`` and ``orbit_pass`` shape the composites (:class:`.expressions.BuildOptions`).
    """

    area: Any
    start: Any
    end: Any
    step: str
    factors: Sequence[str]
    smap_product: str = "L4"
    smap_layer: str = "sm_surface"
    fine_resolution: float = 1000.0
    target_crs: str = "EPSG:6933"
    area_crs: Optional[str] = None
    window_days: int = 8
    orbit_pass: str = "both"
    sources: Optional[dict[str, str]] = None


@dataclass
class FetchRequest(AreaRequest):
    """What :func:`.fetch.fetch` downloads: an :class:`AreaRequest` plus the antecedent precipitation window
    (days; None: the catalog's default)."""

    antecedent_days: Optional[int] = None


@dataclass
class FetchOptions:
    """How :func:`.fetch.fetch` transfers.

    ``workers``: parallel tile requests. ``cache_dir``: where tiles wait until the whole request has
    succeeded (default: ``<out_dir>/.cache``). ``export``: None (download), 'drive' (``export_target`` = Drive
    folder) or 'gcs' (``export_target`` = bucket); ``wait_exports`` follows the tasks to their end, polling every
    ``export_poll`` seconds. ``max_interactive_bytes``: largest download of one time step. ``timeout``: seconds
    per request; ``retry``: a :class:`.transport.RetryPolicy` (default one when None). ``max_input_pixels``:
    source pixels one request may read (default :data:`.transport.DEFAULT_MAX_INPUT_PIXELS`). ``plan_only``:
    compute nothing, write the plan.
    """

    workers: int = 4
    cache_dir: Optional[str] = None
    export: Optional[str] = None
    export_target: Optional[str] = None
    wait_exports: bool = False
    export_poll: float = 10.0
    max_interactive_bytes: int = MAX_INTERACTIVE_BYTES
    timeout: float = 120.0
    retry: Any = None
    max_input_pixels: Optional[float] = None
    plan_only: bool = False


@dataclass
class DownscaleRequest(AreaRequest):
    """What :func:`.server.plan_downscale` builds: an :class:`AreaRequest` plus the model and the exports.

    ``model_type``: rf, cart, svr or gbt, with ``params`` (:func:`.server.classifier_args`) and ``seed``; trained
    on ``samples_per_step`` SMAP cells (None/0: all) of up to ``max_training_steps`` steps (None/0: all), or
    loaded from ``classifier_asset``; ``save_classifier_asset`` saves it. ``residual``: smooth (default),
    constant or none; ``clip``: (low, high) or None. ``destination``: drive, gcs or asset, with
    ``destination_path`` (folder, ``bucket[/prefix]`` or asset folder). ``max_pixels``: the exports' ``maxPixels``.
    """

    model_type: str = "rf"
    params: Optional[dict[str, Any]] = None
    residual: str = EE_RESIDUAL_MODES.default_key
    clip: Optional[tuple[float, float]] = DEFAULT_CLIP
    destination: str = "drive"
    destination_path: Optional[str] = None
    samples_per_step: Optional[int] = 1000
    max_training_steps: Optional[int] = 24
    seed: int = 0
    save_classifier_asset: Optional[str] = None
    classifier_asset: Optional[str] = None
    max_pixels: float = DEFAULT_MAX_PIXELS


@dataclass
class TaskRun:
    """How export tasks are submitted and followed (:func:`.tasks.submit_batches`, :func:`.pipeline.downscale_gee`).

    At most ``batch_size`` tasks queued or running at once; ``wait``: follow them to their end (else start the
    first batch and return), polling every ``poll_interval`` seconds, for at most ``timeout`` seconds (None: no
    limit). ``download_folder`` (Cloud Storage only): download the completed maps there, through ``storage``
    (default :class:`.tasks.GcsStorage`). ``plan_only``: submit nothing, write the plan. ``sleep``: how to wait
    (tests pass a fast one). :func:`.tasks.submit_batches` reads the first four and ``sleep``.
    """

    batch_size: int = 10
    wait: bool = True
    poll_interval: float = 30.0
    timeout: Optional[float] = None
    download_folder: Optional[str] = None
    storage: Any = None
    plan_only: bool = False
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


__all__ = ["Connection", "AreaRequest", "FetchRequest", "FetchOptions", "DownscaleRequest", "TaskRun",
           "MAX_INTERACTIVE_BYTES", "DEFAULT_CLIP", "DEFAULT_MAX_PIXELS"]
