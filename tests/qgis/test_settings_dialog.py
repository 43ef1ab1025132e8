"""Settings and sign-in dialog, offscreen: values round-trip through QgsSettings, the service-account key
lives only in the QGIS authentication database, and "Test connection" shows the fake Earth Engine's answer.
No dialog is shown or executed here."""

from __future__ import annotations

import json
import time

import pytest
from qgis.core import QgsApplication, QgsSettings
from qgis.gui import QgsOptionsPageWidget
from qgis.PyQt.QtCore import QCoreApplication

from smdownscale.algorithms.errors import InputError
from smdownscale.processing_provider import settings
from smdownscale.tests.fake_ee import FakeEarthEngine, unregistered_project
from smdownscale.ui.settings_dialog import SettingsOptionsFactory, SettingsWidget

MASTER_PASSWORD = "smdownscale-test-master"


@pytest.fixture
def clean_settings(qgis_app):
    QgsSettings().remove("smdownscale")
    yield
    QgsSettings().remove("smdownscale")


@pytest.fixture
def auth_db(qgis_app):
    """The test profile's authentication database, unlocked with a known master password."""
    am = QgsApplication.authManager()
    if not am.masterPasswordIsSet():
        if am.masterPasswordHashInDatabase() and not am.setMasterPassword(MASTER_PASSWORD, True):
            # Another master password in the (throw-away) test profile: start a fresh database.
            assert ".qgis-settings" in am.authenticationDatabasePath()
            am.eraseAuthenticationDatabase(False)
        assert am.setMasterPassword(MASTER_PASSWORD, True)
    before = set(am.configIds())
    yield am
    for cfg in set(am.configIds()) - before:
        am.removeAuthenticationConfig(cfg)


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the connection test"
        QCoreApplication.processEvents()
        time.sleep(0.01)


def run_test_button(widget: SettingsWidget) -> list[tuple[bool, str]]:
    seen: list[tuple[bool, str]] = []
    widget.connectionTested.connect(lambda ok, msg: seen.append((ok, msg)))
    widget.test_button.click()
    wait_until(lambda: bool(seen))
    assert widget.test_button.isEnabled()
    return seen


def test_defaults_without_stored_values(clean_settings):
    w = SettingsWidget()
    assert settings.ee_project() == ""
    assert settings.ee_credentials_mode() == "persistent"
    assert settings.parallel_requests() == settings.DEFAULT_PARALLEL == 8
    assert settings.cache_dir().endswith("smdownscale")
    assert w.persistent_radio.isChecked() and not w.service_radio.isChecked()
    assert not w.key_box.isEnabled()
    assert w.parallel_spin.value() == 8
    assert w.cache_widget.filePath() == settings.default_cache_dir()


def test_values_saved_to_qgssettings_and_restored(clean_settings, tmp_path):
    w = SettingsWidget()
    w.project_edit.setText("  my-ee-project ")
    w.url_edit.setText("https://earthengine-highvolume.googleapis.com/")
    w.cache_widget.setFilePath(str(tmp_path / "cache"))
    w.parallel_spin.setValue(12)
    assert w.save()
    s = QgsSettings()
    assert s.value("smdownscale/ee_project") == "my-ee-project"
    assert s.value("smdownscale/ee_credentials") == "persistent"
    assert s.value("smdownscale/ee_url") == "https://earthengine-highvolume.googleapis.com"
    assert s.value("smdownscale/cache_dir") == str(tmp_path / "cache")
    assert int(s.value("smdownscale/parallel_requests")) == 12
    assert settings.ee_project() == "my-ee-project"
    assert settings.parallel_requests() == 12
    assert settings.cache_dir() == str(tmp_path / "cache")

    again = SettingsWidget()
    assert again.project_edit.text() == "my-ee-project"
    assert again.url_edit.text() == "https://earthengine-highvolume.googleapis.com"
    assert again.cache_widget.filePath() == str(tmp_path / "cache")
    assert again.parallel_spin.value() == 12
    assert again.persistent_radio.isChecked()

    # The default cache folder is stored as "use the default", not as a fixed path.
    again.cache_widget.setFilePath(settings.default_cache_dir())
    assert again.save()
    assert QgsSettings().value("smdownscale/cache_dir") == ""


def test_invalid_values_are_not_saved(clean_settings, tmp_path):
    w = SettingsWidget()
    w.project_edit.setText("first")
    assert w.save()
    w.project_edit.setText("second")
    w.service_radio.setChecked(True)
    assert w.key_box.isEnabled()
    assert not w.save()
    assert "service-account key" in w.status_label.text()
    w.persistent_radio.setChecked(True)
    w.url_edit.setText("earthengine.googleapis.com")
    assert not w.save()
    assert "https://" in w.status_label.text()
    w.url_edit.setText("")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    w.cache_widget.setFilePath(str(a_file))
    assert not w.save()
    assert "is a file" in w.status_label.text()
    assert settings.ee_project() == "first"


def test_stored_values_out_of_range_are_clamped(clean_settings):
    s = QgsSettings()
    s.setValue("smdownscale/parallel_requests", 500)
    s.setValue("smdownscale/ee_credentials", "password-in-settings")
    assert settings.parallel_requests() == 40
    assert settings.ee_credentials_mode() == "persistent"
    s.setValue("smdownscale/parallel_requests", "many")
    assert settings.parallel_requests() == 8
    s.setValue("smdownscale/parallel_requests", 0)
    assert settings.parallel_requests() == 1
    with pytest.raises(ValueError):
        settings.set_ee_credentials_mode("oauth")


def test_test_connection_shows_fake_server_answer(clean_settings):
    with FakeEarthEngine(project="smd-demo") as fake:
        fake.compute_result = 4242
        w = SettingsWidget()
        w.project_edit.setText("smd-demo")
        w.url_edit.setText(fake.url)
        seen = run_test_button(w)
        compute = fake.requests_to("compute")
        url = fake.url
    assert seen == [(True, w.result_label.text())]
    text = w.result_label.text()
    assert "Connected to Earth Engine with project 'smd-demo'" in text
    assert "answered 4242" in text
    assert url in text
    assert len(compute) == 1 and "/projects/smd-demo/" in compute[0].path
    assert "1a7f37" in w.result_label.styleSheet()
    assert settings.ee_project() == ""  # testing does not save


def test_test_connection_reports_refusal(clean_settings):
    with FakeEarthEngine(project="unregistered") as fake:
        fake.inject(unregistered_project("unregistered"), times=None, endpoint="compute")
        w = SettingsWidget()
        w.project_edit.setText("unregistered")
        w.url_edit.setText(fake.url)
        seen = run_test_button(w)
    ok, message = seen[0]
    assert not ok
    assert "The Cloud project 'unregistered' cannot use Earth Engine" in message
    assert "not registered to use Earth Engine" in message
    assert w.result_label.text() == message
    assert "b42318" in w.result_label.styleSheet()


def test_test_connection_without_project_says_what_to_set(clean_settings, monkeypatch):
    monkeypatch.delenv("SMDOWNSCALE_EE_PROJECT", raising=False)
    monkeypatch.delenv("EARTHENGINE_PROJECT", raising=False)
    with FakeEarthEngine() as fake:
        w = SettingsWidget()
        w.url_edit.setText(fake.url)
        (ok, message), = run_test_button(w)
        assert fake.requests == []
    assert not ok
    assert message.startswith("An Earth Engine Cloud project id is required: set it in the plugin settings")


def test_service_account_key_lives_in_auth_db(clean_settings, auth_db, tmp_path, private_key_pem):
    with FakeEarthEngine(project="sa-project") as fake:
        info = fake.service_account_info(private_key_pem)
        key_file = tmp_path / "key.json"
        key_file.write_text(json.dumps(info, indent=2))
        w = SettingsWidget()
        authcfg = w.import_key_file(str(key_file))
        assert authcfg and authcfg in auth_db.configIds()
        assert w.service_radio.isChecked() and w.authcfg() == authcfg
        assert "Key stored" in w.result_label.text()
        w.project_edit.setText("sa-project")
        w.url_edit.setText(fake.url)
        assert w.save()
        seen = run_test_button(w)
        token_requests = fake.requests_to("token")
        compute = fake.requests_to("compute")
    assert seen[0][0], seen
    assert "answered 1" in seen[0][1]
    assert len(token_requests) >= 1
    headers = {k.lower(): v for k, v in compute[0].headers.items()}
    assert headers["authorization"] == f"Bearer {fake.access_token}"

    assert settings.ee_credentials_mode() == "service_account"
    assert settings.ee_authcfg() == authcfg
    assert settings.service_account_key() == info
    # The settings file holds the config id only, never the key.
    QgsSettings().sync()
    with open(QgsSettings().fileName(), encoding="utf-8") as f:
        ini = f.read()
    assert authcfg in ini
    assert "PRIVATE KEY" not in ini and info["client_email"] not in ini

    # Importing again updates the same configuration.
    assert settings.store_service_account_key(json.dumps(info), authcfg) == authcfg


def test_locked_auth_db_is_reported_without_prompting(clean_settings, auth_db, private_key_pem):
    with FakeEarthEngine() as fake:
        info = fake.service_account_info(private_key_pem)
    settings.set_ee_authcfg(settings.store_service_account_key(json.dumps(info)))
    auth_db.clearMasterPassword()
    try:
        with pytest.raises(InputError, match="authentication database is locked") as err:
            settings.service_account_key()
        assert "QGIS_AUTH_PASSWORD_FILE" in str(err.value)
    finally:
        assert auth_db.setMasterPassword(MASTER_PASSWORD, True)
    assert settings.service_account_key()["client_email"] == info["client_email"]


def test_bad_key_files_are_refused(clean_settings, auth_db, tmp_path):
    w = SettingsWidget()
    not_key = tmp_path / "other.json"
    not_key.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    assert w.import_key_file(str(not_key)) == ""
    assert "not a service-account key" in w.result_label.text()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert w.import_key_file(str(broken)) == ""
    assert "not valid JSON" in w.result_label.text()
    assert w.import_key_file(str(tmp_path / "missing.json")) == ""
    assert "Cannot read" in w.result_label.text()
    settings.set_ee_authcfg("nosuch1")
    with pytest.raises(InputError, match="'nosuch1' chosen for Earth Engine does not exist"):
        settings.service_account_key()


def test_options_page_saves_on_apply(clean_settings):
    factory = SettingsOptionsFactory()
    assert factory.title() == "Soil moisture downscaling"
    assert factory.path() == ["Processing"]
    assert not factory.icon().isNull()
    page = factory.createWidget(None)
    assert isinstance(page, QgsOptionsPageWidget)
    page.widget.project_edit.setText("from-options")
    page.widget.parallel_spin.setValue(3)
    page.apply()
    assert settings.ee_project() == "from-options"
    assert settings.parallel_requests() == 3


def test_plugin_menu_and_options_page_added_and_removed(plugin, qgis_iface):
    from smdownscale.plugin import SmDownscalePlugin

    add_menu, remove_menu = qgis_iface.addPluginToRasterMenu, qgis_iface.removePluginRasterMenu
    register, unregister = qgis_iface.registerOptionsWidgetFactory, qgis_iface.unregisterOptionsWidgetFactory
    counts = (add_menu.call_count, remove_menu.call_count, register.call_count, unregister.call_count)
    second = SmDownscalePlugin(qgis_iface)
    second.initGui()
    assert second.provider is None  # the session plugin's provider is registered already
    texts = [a.text() for a in second.actions]
    assert texts == ["Soil moisture downscaling toolbox", "Settings…", "Check dependencies…", "Help"]
    added = [c.args[1] for c in add_menu.call_args_list[counts[0]:]]
    assert added == second.actions
    assert register.call_args_list[counts[2]:][0].args[0] is second.options_factory
    actions, factory = list(second.actions), second.options_factory
    second.unload()
    removed = [c.args[1] for c in remove_menu.call_args_list[counts[1]:]]
    assert removed == actions
    assert [c.args[0] for c in unregister.call_args_list[counts[3]:]] == [factory]
    assert second.actions == [] and second.options_factory is None
    assert QgsApplication.processingRegistry().providerById("smdownscale") is plugin.provider is not None


def test_menu_entry_shows_the_processing_toolbox_not_a_dialog(plugin, qgis_iface, monkeypatch):
    """'Soil moisture downscaling toolbox' shows the Processing toolbox, filtered to this plugin's algorithms."""
    from qgis import processing
    from qgis.PyQt.QtCore import QModelIndex, Qt
    from qgis.PyQt.QtWidgets import QDockWidget

    from smdownscale.plugin import SmDownscalePlugin

    opened = []
    monkeypatch.setattr(processing, "execAlgorithmDialog", lambda *a, **k: opened.append(a))
    window = qgis_iface.mainWindow()
    toolbox = window.findChild(QDockWidget, "ProcessingToolbox")
    if toolbox is None:
        from processing.gui.ProcessingToolbox import ProcessingToolbox

        toolbox = ProcessingToolbox()
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, toolbox)
    toolbox.hide()
    second = SmDownscalePlugin(qgis_iface)
    second.initGui()
    try:
        second.actions[0].trigger()
        assert toolbox.isVisibleTo(window)
        assert toolbox.searchBox.text() == "smdownscale"
        tree = toolbox.algorithmTree
        shown = []

        def walk(parent):
            for row in range(tree.model().rowCount(parent)):
                index = tree.model().index(row, 0, parent)
                alg = tree.algorithmForIndex(index)
                if alg is not None:
                    shown.append(alg.id())
                walk(index)

        walk(QModelIndex())
        assert shown and all(a.startswith("smdownscale:") for a in shown)
        assert "smdownscale:train" in shown
        assert opened == []  # no algorithm dialog
    finally:
        second.unload()
        toolbox.hide()



@pytest.fixture
def google(clean_settings, monkeypatch, tmp_path):
    """The fake Earth Engine also playing Google's sign-in and token endpoints; a home folder of its own."""
    from smdownscale.algorithms.gee import auth

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with FakeEarthEngine(project="smd-demo") as fake:
        monkeypatch.setattr(auth, "OAUTH_AUTH_URI", fake.url + "/o/oauth2/auth")
        monkeypatch.setattr(auth, "OAUTH_TOKEN_URI", fake.url + "/token")
        yield fake
    assert fake.internet_attempts == []


def _browser(url: str, opened: list) -> None:
    """The user's browser, in its own thread: follows Google's redirect back to QGIS's loopback."""
    import threading
    import urllib.request

    def visit():
        with urllib.request.urlopen(url, timeout=30) as response:
            opened.append((response.status, response.read().decode("utf-8")))

    threading.Thread(target=visit, daemon=True).start()


def test_sign_in_with_google_saves_credentials_the_connection_test_uses(google, monkeypatch, tmp_path):
    import ee

    w = SettingsWidget()
    w.service_radio.setChecked(True)
    assert not w.sign_in_button.isEnabledTo(w)  # signing in is for "My Google account"
    w.persistent_radio.setChecked(True)
    opened: list = []
    w.open_url = lambda url: _browser(url, opened)
    done: list = []
    w.signedIn.connect(lambda ok, msg: done.append((ok, msg)))
    assert not w.sign_in_label.isVisibleTo(w)
    w.sign_in_button.click()
    wait_until(lambda: bool(done))
    path = tmp_path / ".config" / "earthengine" / "credentials"
    assert done == [(True, f"Signed in to Earth Engine; credentials saved in {path} for QGIS and qgis_process. "
                           "Click 'Test connection' to check the project.")]
    assert w.result_label.text() == done[0][1] and "1a7f37" in w.result_label.styleSheet()
    assert opened and opened[0][0] == 200 and "Signed in to Google Earth Engine" in opened[0][1]
    assert json.loads(path.read_text())["refresh_token"] == google.refresh_tokens[0]
    assert w.persistent_radio.isChecked() and w.sign_in_button.isEnabled() and not w.is_signing_in()
    assert not w.cancel_sign_in_button.isVisibleTo(w)
    # the saved credentials are the ones Test connection (and every run) uses
    monkeypatch.setattr(ee.oauth, "TOKEN_URI", google.url + "/token")
    google.require_token = True
    google.compute_result = 99
    w.project_edit.setText("smd-demo")
    w.url_edit.setText(google.url)
    from smdownscale.algorithms.gee import auth

    monkeypatch.setattr(auth, "is_loopback", lambda url: False)  # no anonymous test shortcut: the saved credentials
    seen = run_test_button(w)
    assert seen[0][0], seen
    assert "answered 99" in seen[0][1]
    assert any("grant_type=refresh_token" in str(r.body) for r in google.requests_to("token"))


def test_sign_in_shows_the_address_and_can_be_canceled(google):
    w = SettingsWidget()
    urls: list = []
    w.open_url = urls.append  # no browser opens
    done: list = []
    w.signedIn.connect(lambda ok, msg: done.append((ok, msg)))
    w.sign_in()
    assert w.is_signing_in() and not w.sign_in_button.isEnabled() and w.cancel_sign_in_button.isVisibleTo(w)
    assert len(urls) == 1 and urls[0].startswith(google.url + "/o/oauth2/auth?client_id=")
    assert w.sign_in_label.text() == ("Waiting for Google: finish the sign-in in your browser. If no browser page "
                                      f"opened, open this address yourself:\n{urls[0]}")
    w.cancel_sign_in_button.click()
    wait_until(lambda: bool(done))
    assert done == [(False, "Sign-in canceled; nothing was saved.")]
    assert w.sign_in_button.isEnabled() and not w.sign_in_label.isVisibleTo(w)
    assert google.refresh_tokens == [] and google.requests_to("authorize") == []
