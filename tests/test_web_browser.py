"""End to end in a real headless browser: Debian's chromium driven by Selenium through chromium-driver
(no browser downloads). Upload a photo, move the strength slider with the keyboard, stylize, and read
the result back from the gallery; a screenshot is kept as an artifact ($BRUSHWORK_ARTIFACTS, else the
test's temporary folder). `.ci/run` installs chromium and sets BRUSHWORK_REQUIRE_BROWSER=1, so in CI
this fails rather than skips when the browser is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from brushwork.pipelines.stylize import sample_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _need_browser():
    missing = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", DRIVER)) if p is None]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium")
    if missing:
        if os.environ.get("BRUSHWORK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BRUSHWORK_REQUIRE_BROWSER=1 but missing: {', '.join(missing)}")
        pytest.skip(f"no headless browser here ({', '.join(missing)}): apt install chromium chromium-driver")


@contextlib.contextmanager
def _running(tmp_path, **options):
    """A studio server in a thread on a free port (``options``: StudioConfig's); yields its address."""
    import uvicorn

    from brushwork.web.app import StudioConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = StudioConfig(**{"data_dir": tmp_path / "studio", "gallery": str(tmp_path / "gallery.db"),
                          "allowed_hosts": ("127.0.0.1", "localhost", "::1"), **options})
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(params=[None, "s3cret"], ids=["loopback", "with-token"])
def server(tmp_path, request):
    with _running(tmp_path, token=request.param) as base:
        yield base, request.param


@pytest.mark.slow
def test_upload_slide_stylize_and_find_it_in_the_gallery(server, tmp_path):
    _need_browser()
    base, token = server
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must not try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "photo.jpg"
    im = Image.open(sample_path("content")).convert("RGB")
    im.thumbnail((480, 480))
    im.save(photo, quality=92)

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    artifacts = Path(os.environ.get("BRUSHWORK_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        wait = WebDriverWait(driver, 120)
        driver.get(base + "/" + (f"#token={token}" if token else ""))
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#style-select option")) >= 2)
        assert driver.find_element(By.ID, "style-select").get_attribute("value") == "starry_night"
        driver.find_element(By.ID, "content-file").send_keys(str(photo))

        def preview_src(d):
            img = d.find_element(By.ID, "preview")
            ok = d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
            return img.get_attribute("src") if ok and img.get_attribute("src").startswith("blob:") else False

        first = wait.until(preview_src)
        slider = driver.find_element(By.ID, "strength")
        slider.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)  # keyboard works
        wait.until(lambda d: d.find_element(By.ID, "strength-out").text == "0.70")
        wait.until(lambda d: preview_src(d) not in (False, first))
        method = lambda v: driver.find_element(By.CSS_SELECTOR, f"input[name=method][value='{v}']")  # noqa: E731
        method("gatys").click()  # the finish is AdaIN's and the AdaIN start's, not plain Gatys'
        wait.until(lambda d: not d.find_element(By.ID, "match").is_enabled())
        method("gatys+adain").click()
        wait.until(lambda d: d.find_element(By.ID, "match").is_enabled())
        driver.find_element(By.CSS_SELECTOR, "input[name=method][value=adain]:not([data-transform])").click()
        wait.until(lambda d: d.find_element(By.ID, "match").is_enabled())
        if token is None:  # the closer-style choice: its preview follows, and the job runs WCT
            wait.until(lambda d: d.execute_script("return !previewBusy && !previewAgain"))  # the slider's last one is in
            slid = wait.until(preview_src)
            driver.find_element(By.CSS_SELECTOR, "input[name=method][data-transform=wct]").click()
            wait.until(lambda d: preview_src(d) not in (False, slid))
        else:  # the finish: colours only; its preview follows, and the job records it
            wait.until(lambda d: d.execute_script("return !previewBusy && !previewAgain"))
            slid = wait.until(preview_src)
            driver.execute_script("const m = document.getElementById('match'); m.value = 'colors'; "
                                  "m.dispatchEvent(new Event('change'))")
            wait.until(lambda d: preview_src(d) not in (False, slid))
        driver.find_element(By.ID, "go").click()
        wait.until(lambda d: d.execute_script(
            "const r = document.getElementById('result'); return r.complete && r.naturalWidth > 0"))
        wait.until(lambda d: "stylize" in d.find_element(By.ID, "gallery").text)
        name = "studio.png" if token is None else "studio-token.png"
        driver.save_screenshot(str(artifacts / name))
        status = driver.find_element(By.ID, "status").text
        assert status.startswith("Done"), status
        items = driver.execute_script("return api('/api/gallery').then(r => r.json())")["items"]
        assert items[0]["operation"] == "stylize" and items[0]["recipe"]["strength"] == pytest.approx(0.7)
        assert items[0]["recipe"]["adain"]["transform"] == ("wct" if token is None else "adain")
        assert items[0]["recipe"]["adain"]["match"] == ("full" if token is None else "colors")
        if token:  # the token is neither in the address bar nor in any image's address
            assert "token" not in driver.current_url
            srcs = driver.execute_script("return [...document.images].map(i => i.src)")
            assert not any("token" in s for s in srcs), srcs
    finally:
        driver.save_screenshot(str(artifacts / "studio-last.png"))
        driver.quit()
    assert (artifacts / name).stat().st_size > 10_000


@pytest.mark.slow
def test_api_docs_page_renders_from_the_package_alone(server):
    """/docs is Swagger UI 5 served by the studio itself: it lists the operations, and every file the page
    loads comes from the studio (none from a CDN, so it works offline)."""
    _need_browser()
    base, token = server
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(base + "/docs")
        WebDriverWait(driver, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10)
        assert "stylize" in driver.find_element(By.CSS_SELECTOR, ".swagger-ui").text
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(u.startswith(base) for u in loaded), loaded
        # with a token, the page offers to send it (the schema declares the bearer scheme)
        assert bool(driver.find_elements(By.CSS_SELECTOR, "button.authorize")) == bool(token)
    finally:
        driver.quit()


# -- the page's own behaviour: small, quick checks (no stylize job unless the check needs one) ----------
def _chrome(width=1366, height=900):
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    if width < 500:  # a desktop window has a minimum width: a phone's screen is emulated
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    return driver


@contextlib.contextmanager
def _studio_page(base: str, timeout: float = 60):
    """The studio page in headless chromium, once its style list has loaded: ``(driver, wait)``."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _chrome()
    try:
        wait = WebDriverWait(driver, timeout)
        driver.get(base + "/")
        wait.until(lambda d: len(d.find_elements("css selector", "#style-select option")) >= 2)
        yield driver, wait
    finally:
        driver.quit()


def _choose_content(driver, photo: Path) -> None:
    from selenium.webdriver.support.ui import Select

    driver.find_element("id", "content-file").send_keys(str(photo))
    Select(driver.find_element("id", "size")).select_by_visible_text("256")


def _small_png(path: Path, side: int = 96, which: str = "content") -> Path:
    im = Image.open(sample_path(which)).convert("RGB")
    im.thumbnail((side, side))
    im.save(path)
    return path


def _seed_gallery(tmp_path) -> dict[str, int]:
    """A stylize item with a command in its recipe and a GAN sample without one, recorded directly."""
    from brushwork.provenance.gallery import Gallery

    made = _small_png(tmp_path / "made.png")
    grid = _small_png(tmp_path / "grid.png", 64, "style")
    sha = "27d70c1c292e904cc9aad940fa553ae369f6f5464bee3a2a1d955d516be1d373"
    stylized = {"operation": "stylize", "strength": 0.5, "output_name": "made.png",
                "command": ["stylize", "{input:0}", "{input:1}", "-o", "{output}", "--method", "adain",
                            "--strength", "0.5", "--size", "512", "--preserve-color", "none", "--seed", "0"],
                "inputs": [{"name": f"{sha}.png", "bytes": 20983, "sha256": sha},
                           {"name": "starry_night.jpg", "bytes": 302901, "sha256": "a" * 64}]}
    gan = {"operation": "gan sample", "checkpoint_sha256": "8fe3" * 16, "seeds": "0-1", "truncation": 1.0,
           "weights_sha256": {"a_rather_long_key_name_" * 4: "b" * 64}}
    g = Gallery.open(tmp_path / "gallery.db")
    try:
        return {"stylize": g.add(made, recipe=stylized, operation="stylize"),
                "gan": g.add(grid, recipe=gan, operation="gan sample")}
    finally:
        g.close()


def _gallery_ready(d, n):
    return len(d.find_elements("css selector", "#gallery li")) >= n


@pytest.mark.slow
def test_narrow_screen_has_no_sideways_scroll_even_with_a_recipe_open(tmp_path):
    _need_browser()
    _seed_gallery(tmp_path)
    from selenium.webdriver.support.ui import WebDriverWait

    with _running(tmp_path) as base:
        driver = _chrome(375, 800)
        try:
            driver.get(base + "/")
            WebDriverWait(driver, 60).until(lambda d: _gallery_ready(d, 2))
            width = lambda: driver.execute_script(  # noqa: E731
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            sw, w = width()
            assert w == 375 and sw <= w, (sw, w)
            driver.execute_script("document.querySelectorAll('#gallery details').forEach(d => d.open = true)")
            sw, w = width()
            assert sw <= w, ("with the recipes open", sw, w)
            style = driver.find_element("id", "style-select").rect
            assert 0 <= style["x"] and style["x"] + style["width"] <= w, style  # the Style column is on screen
        finally:
            driver.quit()


@pytest.mark.slow
def test_gallery_offers_reproduce_and_style_only_where_they_apply(tmp_path):
    _need_browser()
    ids = _seed_gallery(tmp_path)
    from selenium.webdriver.support.ui import WebDriverWait

    with _running(tmp_path) as base:
        driver = _chrome()
        try:
            driver.get(base + "/")
            WebDriverWait(driver, 60).until(lambda d: _gallery_ready(d, 2))
            labels = driver.execute_script(
                "return Object.fromEntries([...document.querySelectorAll('#gallery li')].map(li => "
                "[li.dataset.id, [...li.querySelectorAll('button')].map(b => b.getAttribute('aria-label'))]))")
            s, g = str(ids["stylize"]), str(ids["gan"])
            assert f"reproduce item {s}" in labels[s] and f"delete item {s}" in labels[s], labels
            assert not any("reproduce" in x or "style" in x for x in labels[g]), labels  # a GAN grid: neither
            options = driver.execute_script("return [...document.querySelectorAll('#style-select option')].map(o => o.value)")
            assert f"gallery:{s}" in options and f"gallery:{g}" not in options, options
            recipe = driver.execute_script(f"return document.querySelector('#gallery li[data-id=\"{s}\"] pre').textContent")
            assert "{input" not in recipe and "{output}" not in recipe, recipe
            assert "27d70c1c292e" in recipe and "starry_night.jpg" in recipe and "made.png" in recipe, recipe
            # the item in use as the style is deleted: the page says so and falls back to the example
            driver.find_element("css selector", f"button[aria-label='use item {s} as the style']").click()
            assert driver.find_element("id", "style-select").get_attribute("value") == f"gallery:{s}"
            driver.find_element("css selector", f"button[aria-label='delete item {s}']").click()
            driver.switch_to.alert.accept()
            WebDriverWait(driver, 30).until(
                lambda d: d.find_element("id", "status").text == f"Style #{s} was deleted; using Starry Night.")
            assert driver.find_element("id", "style-select").get_attribute("value") == "starry_night"
        finally:
            driver.quit()


@pytest.mark.slow
def test_uploaded_style_survives_choosing_the_example_and_back(tmp_path):
    _need_browser()
    painting = _small_png(tmp_path / "painting.png", 64, "style")
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with _running(tmp_path) as base:
        driver = _chrome()
        try:
            wait = WebDriverWait(driver, 60)
            driver.get(base + "/")
            wait.until(lambda d: len(d.find_elements("css selector", "#style-select option")) >= 2)
            select = Select(driver.find_element("id", "style-select"))
            thumb = lambda: driver.find_element("id", "style-thumb").get_attribute("src") or ""  # noqa: E731
            driver.find_element("id", "style-file").send_keys(str(painting))
            wait.until(lambda d: thumb().startswith("blob:"))
            assert select.first_selected_option.get_attribute("value") == ""
            assert driver.find_element("id", "style-file").get_attribute("value") == ""  # the same file may come again
            select.select_by_value("starry_night")
            wait.until(lambda d: "/api/styles/starry_night" in thumb())
            select.select_by_value("")
            wait.until(lambda d: thumb().startswith("blob:"))
            assert driver.execute_script("const f = new FormData(); return addStyle(f, false) && f.get('style') !== null")
            select.select_by_value("starry_night")
            driver.find_element("id", "style-file").send_keys(str(painting))  # the same file again
            wait.until(lambda d: select.first_selected_option.get_attribute("value") == "" and thumb().startswith("blob:"))
        finally:
            driver.quit()


@pytest.mark.slow
def test_gallery_off_is_a_quiet_note_not_an_error(tmp_path):
    _need_browser()
    photo = _small_png(tmp_path / "photo.png", 96)

    with _running(tmp_path, gallery="off") as base, _studio_page(base, timeout=120) as (driver, wait):
        status = driver.find_element("id", "status")
        assert "error" not in status.get_attribute("class") and status.text == "Ready.", status.text
        assert "off" in driver.find_element("id", "gallery-msg").text
        _choose_content(driver, photo)
        wait.until(lambda d: d.execute_script("const p = document.getElementById('preview'); "
                                              "return !p.hidden && p.complete && p.naturalWidth > 0"))
        driver.find_element("id", "go").click()
        wait.until(lambda d: d.find_element("id", "status").text.startswith("Done"))
        time.sleep(0.5)  # the gallery reload that follows must not overwrite it
        status = driver.find_element("id", "status")
        assert status.text.startswith("Done") and "error" not in status.get_attribute("class"), status.text
        assert driver.execute_script("return document.activeElement.id") == "go"  # focus is back on Stylize


@pytest.mark.slow
def test_a_picture_over_the_upload_limit_is_refused_before_it_is_sent(tmp_path):
    _need_browser()
    photo = _small_png(tmp_path / "big.png", 96)

    with _running(tmp_path, gallery="off", max_upload_bytes=2000) as base, _studio_page(base) as (driver, wait):
        driver.find_element("id", "content-file").send_keys(str(photo))
        wait.until(lambda d: "big.png" in d.find_element("id", "status").text)
        assert "at most" in driver.find_element("id", "status").text
        assert driver.execute_script("return chosen.content") is None


@pytest.mark.slow
def test_without_the_token_the_page_asks_for_it(tmp_path):
    _need_browser()
    from selenium.webdriver.support.ui import WebDriverWait

    with _running(tmp_path, token="s3cret") as base:
        driver = _chrome()
        try:
            wait = WebDriverWait(driver, 60)
            driver.get(base + "/")
            wait.until(lambda d: d.find_element("id", "token-input").is_displayed())
            assert "#token=" in driver.find_element("id", "status").text
            driver.find_element("id", "token-input").send_keys("s3cret\n")
            wait.until(lambda d: len(d.find_elements("css selector", "#style-select option")) >= 2)
            assert not driver.find_element("id", "token-input").is_displayed()
            assert "token" not in driver.current_url
        finally:
            driver.quit()


@pytest.mark.slow
def test_a_reload_follows_the_running_job_again(tmp_path):
    _need_browser()
    photo = _small_png(tmp_path / "photo.png", 96)

    with _running(tmp_path, gallery="off") as base, _studio_page(base) as (driver, wait):
        _choose_content(driver, photo)
        driver.find_element("css selector", "input[name=method][value=gatys]").click()  # minutes: still running
        driver.find_element("id", "go").click()
        wait.until(lambda d: d.find_element("id", "cancel").is_displayed())
        assert driver.execute_script("return document.activeElement.id") == "cancel"
        driver.refresh()
        wait.until(lambda d: d.find_element("id", "cancel").is_displayed())  # followed again
        assert not driver.find_element("id", "go").is_enabled()
        driver.find_element("id", "cancel").click()
        wait.until(lambda d: d.find_element("id", "status").text == "Cancelled.")
        assert driver.execute_script("return sessionStorage.getItem('brushwork-job')") is None


@pytest.mark.slow
def test_the_gallery_pages_past_its_newest_thousand_items(tmp_path):
    """GET /api/gallery lists at most 1000 items a request: the page asks for more in pages (`before`), so
    "More" reaches the oldest item (it stopped at the newest 1000)."""
    _need_browser()
    from selenium.webdriver.support.ui import WebDriverWait

    from brushwork.provenance.gallery import Gallery

    made = _small_png(tmp_path / "made.png")
    g = Gallery.open(tmp_path / "gallery.db")
    try:
        ids = [g.add(made, operation="palette swatch") for _ in range(1003)]
    finally:
        g.close()
    with _running(tmp_path) as base:
        driver = _chrome()
        try:
            driver.get(base + "/")
            WebDriverWait(driver, 60).until(lambda d: _gallery_ready(d, 40))
            driver.execute_script("galleryLimit = 960; document.getElementById('gallery-more').click()")  # 1000
            WebDriverWait(driver, 60).until(lambda d: _gallery_ready(d, 1000))
            assert driver.find_element("id", "gallery-more").is_displayed()
            driver.find_element("id", "gallery-more").click()
            WebDriverWait(driver, 60).until(lambda d: _gallery_ready(d, 1003))
            listed = driver.execute_script("return [...document.querySelectorAll('#gallery li')].map(li => +li.dataset.id)")
            assert listed == ids[::-1] and not driver.find_element("id", "gallery-more").is_displayed()
        finally:
            driver.quit()
