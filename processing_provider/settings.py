"""smdownscale settings, stored in the QGIS user profile (QgsSettings) and the QGIS authentication database.

Keys (all under ``smdownscale/``):

- ``ee_project`` — Google Cloud project id used for Earth Engine requests.
- ``ee_credentials`` — ``persistent`` (the user's own credentials, written by ``earthengine authenticate``
  or ``ee.Authenticate()``) or ``service_account``.
- ``ee_authcfg`` — id of a QGIS authentication configuration holding the service-account key. The key
  itself never goes into the settings file: it lives encrypted in ``qgis-auth.db``.
- ``ee_url`` — Earth Engine endpoint; empty means the library default. The high-volume endpoint
  (``https://earthengine-highvolume.googleapis.com``) suits many parallel requests.
- ``cache_dir`` — folder for downloaded Earth Engine data.
- ``parallel_requests`` — concurrent Earth Engine requests (1-40).

How the service-account key is stored: an authentication configuration of method ``Basic`` whose
*username* is the key's ``client_email`` and whose *password* is the whole JSON key file text. It is
created by the settings dialog ("Import key file…", :func:`store_service_account_key`) and can be
inspected or removed under Settings > Options > Authentication. Reading it needs the authentication
database to be unlocked (the QGIS master password). Headless runs (qgis_process, cron) unlock it with
the ``QGIS_AUTH_PASSWORD_FILE`` environment variable pointing at a file that holds the master password.
"""

from __future__ import annotations

import json
import os
from typing import Any

from qgis.core import QgsApplication, QgsAuthMethodConfig, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QStandardPaths

from ..algorithms.errors import InputError

_translate = QCoreApplication.translate

PREFIX = "smdownscale/"
KEY_PROJECT = PREFIX + "ee_project"
KEY_CREDENTIALS = PREFIX + "ee_credentials"
KEY_AUTHCFG = PREFIX + "ee_authcfg"
KEY_URL = PREFIX + "ee_url"
KEY_CACHE_DIR = PREFIX + "cache_dir"
KEY_PARALLEL = PREFIX + "parallel_requests"

PERSISTENT = "persistent"
SERVICE_ACCOUNT = "service_account"
CREDENTIAL_MODES = (PERSISTENT, SERVICE_ACCOUNT)

DEFAULT_PARALLEL = 8
MIN_PARALLEL = 1
MAX_PARALLEL = 40

#: Authentication method used to hold the key (username = client_email, password = key JSON).
AUTH_METHOD = "Basic"
AUTH_URI = "https://earthengine.googleapis.com"



def _get(key: str, default: Any, kind: type) -> Any:
    try:
        value = QgsSettings().value(key, default, type=kind)
    except TypeError:  # a value of another type was stored by hand
        return default
    return default if value is None else value


def _set(key: str, value: Any) -> None:
    QgsSettings().setValue(key, value)


# -- getters -------------------------------------------------------------------------------------------
def ee_project() -> str:
    """Google Cloud project id for Earth Engine ('' when not set)."""
    return str(_get(KEY_PROJECT, "", str)).strip()


def ee_credentials_mode() -> str:
    """``'persistent'`` or ``'service_account'`` (anything else reads as ``'persistent'``)."""
    mode = str(_get(KEY_CREDENTIALS, PERSISTENT, str)).strip()
    return mode if mode in CREDENTIAL_MODES else PERSISTENT


def ee_authcfg() -> str:
    """Id of the QGIS authentication configuration holding the service-account key ('' when not set)."""
    return str(_get(KEY_AUTHCFG, "", str)).strip()


def ee_url() -> str:
    """Earth Engine endpoint URL; '' means the earthengine-api default."""
    return str(_get(KEY_URL, "", str)).strip().rstrip("/")


def default_cache_dir() -> str:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericCacheLocation)
    if not base:
        base = os.path.join(QgsApplication.qgisSettingsDirPath(), "cache")
    return os.path.join(base, "smdownscale")


def cache_dir() -> str:
    """Folder for downloaded Earth Engine data (not created here)."""
    value = str(_get(KEY_CACHE_DIR, "", str)).strip()
    return os.path.expanduser(value) if value else default_cache_dir()


def parallel_requests() -> int:
    """Number of concurrent Earth Engine requests, clamped to 1-40."""
    try:
        value = int(_get(KEY_PARALLEL, DEFAULT_PARALLEL, int))
    except (TypeError, ValueError):
        value = DEFAULT_PARALLEL
    return max(MIN_PARALLEL, min(MAX_PARALLEL, value))


# -- setters -------------------------------------------------------------------------------------------
def set_ee_project(value: str) -> None:
    _set(KEY_PROJECT, (value or "").strip())


def set_ee_credentials_mode(value: str) -> None:
    if value not in CREDENTIAL_MODES:
        raise ValueError(f"credential mode must be one of {CREDENTIAL_MODES}, not {value!r}")
    _set(KEY_CREDENTIALS, value)


def set_ee_authcfg(value: str) -> None:
    _set(KEY_AUTHCFG, (value or "").strip())


def set_ee_url(value: str) -> None:
    _set(KEY_URL, (value or "").strip().rstrip("/"))


def set_cache_dir(value: str) -> None:
    """Store the cache folder; an empty value (or the default folder) means the default."""
    value = (value or "").strip()
    _set(KEY_CACHE_DIR, "" if value == default_cache_dir() else value)


def set_parallel_requests(value: int) -> None:
    _set(KEY_PARALLEL, max(MIN_PARALLEL, min(MAX_PARALLEL, int(value))))


# -- service-account key -------------------------------------------------------------------------------
def parse_service_account_key(text: str) -> dict:
    """The key file text as a dict, after checking it is a Google service-account key."""
    try:
        key = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise InputError(_translate(
            "SmdSettings", "The service-account key is not valid JSON; download the key again from the Google Cloud "
            "console (IAM > Service accounts > Keys > Add key > JSON).")) from exc
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise InputError(_translate(
            "SmdSettings", "The JSON file is not a service-account key (its \"type\" is not \"service_account\"); "
            "create a JSON key for the service account in the Google Cloud console."))
    missing = [k for k in ("client_email", "private_key", "token_uri") if not key.get(k)]
    if missing:
        raise InputError(_translate(
            "SmdSettings", "The service-account key lacks {fields}; download a complete JSON key from the Google "
            "Cloud console.").format(fields=", ".join(missing)))
    return key


def _auth_manager():
    return QgsApplication.authManager()


def _unlock(prompt: bool) -> bool:
    am = _auth_manager()
    if am.masterPasswordIsSet():
        return True
    if prompt:
        am.setMasterPassword(True)  # asks for the master password in the desktop application
    return am.masterPasswordIsSet()


def _locked_error() -> InputError:
    return InputError(_translate(
        "SmdSettings", "The QGIS authentication database is locked, so the Earth Engine service-account key cannot "
        "be read. In QGIS, open Soil moisture downscaling > Settings… and press Test connection to unlock it; for "
        "qgis_process set QGIS_AUTH_PASSWORD_FILE to a file holding the master password."))


def _load_config(authcfg: str) -> QgsAuthMethodConfig | None:
    config = QgsAuthMethodConfig()
    result = _auth_manager().loadAuthenticationConfig(authcfg, config, True)
    if isinstance(result, tuple):  # (ok, config) in the Python bindings
        ok, config = result[0], result[1]
    else:
        ok = bool(result)
    return config if ok and config.isValid(True) else None


def service_account_key(prompt: bool = False) -> dict | None:
    """The service-account key stored under :func:`ee_authcfg`, or None when none is configured.

    Never asks for the master password unless ``prompt`` is true (only from the desktop GUI thread).
    Raises :class:`InputError` when a configuration is set but cannot be read or holds no valid key.
    """
    authcfg = ee_authcfg()
    return read_service_account_key(authcfg, prompt) if authcfg else None


def read_service_account_key(authcfg: str, prompt: bool = False) -> dict:
    """The service-account key held by the authentication configuration ``authcfg``."""
    am = _auth_manager()
    if not authcfg or authcfg not in am.configIds():
        raise InputError(_translate(
            "SmdSettings", "The authentication configuration '{id}' chosen for Earth Engine does not exist; import "
            "the service-account key again in Soil moisture downscaling > Settings….").format(id=authcfg))
    if not _unlock(prompt):
        raise _locked_error()
    config = _load_config(authcfg)
    if config is None:
        raise InputError(_translate(
            "SmdSettings", "The authentication configuration '{id}' could not be decrypted; check the QGIS master "
            "password, or import the service-account key again.").format(id=authcfg))
    return parse_service_account_key(config.config("password", ""))


def store_service_account_key(text: str, authcfg: str = "", prompt: bool = False) -> str:
    """Store a service-account key (JSON text) in the QGIS authentication database; returns the config id.

    Updates ``authcfg`` when it names an existing configuration, else creates a new one. The settings
    key ``ee_authcfg`` is not changed here (the dialog saves it with the other values).
    """
    key = parse_service_account_key(text)
    if not _unlock(prompt):
        raise _locked_error()
    am = _auth_manager()
    config = QgsAuthMethodConfig(AUTH_METHOD)
    config.setName(_translate("SmdSettings", "Earth Engine service account ({email})").format(
        email=key["client_email"]))
    config.setUri(AUTH_URI)
    config.setConfig("username", key["client_email"])
    config.setConfig("password", json.dumps(key))
    config.setConfig("realm", "")
    if authcfg and authcfg in am.configIds():
        config.setId(authcfg)
        result = am.updateAuthenticationConfig(config)
    else:
        result = am.storeAuthenticationConfig(config)
    if isinstance(result, tuple):
        ok, config = result[0], result[1]
    else:
        ok = bool(result)
    if not ok or not config.id():
        raise InputError(_translate(
            "SmdSettings", "The key could not be saved in the QGIS authentication database; check it under "
            "Settings > Options > Authentication."))
    return config.id()
