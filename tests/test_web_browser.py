"""End to end in a real headless browser: Debian's chromium driven by Selenium through chromium-driver
(no browser downloads). Upload a photo, move the strength slider with the keyboard, stylize, and read
the result back from the gallery; a screenshot is kept as an artifact ($BRUSHWORK_ARTIFACTS, else the
test's temporary folder). `.ci/run` installs chromium and sets BRUSHWORK_REQUIRE_BROWSER=1, so in CI
this fails rather than skips when the browser is missing.
"""

from __future__ import annotations

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


@pytest.fixture(params=[None, "s3cret"], ids=["loopback", "with-token"])
def server(tmp_path, request):
    import uvicorn

    from brushwork.web.app import StudioConfig, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = StudioConfig(data_dir=tmp_path / "studio", gallery=str(tmp_path / "gallery.db"), token=request.param,
                       allowed_hosts=("127.0.0.1", "localhost", "::1"))
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", request.param
    srv.should_exit = True
    thread.join(timeout=30)


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
        if token is None:  # the closer-style choice: its preview follows, and the job runs WCT
            wait.until(lambda d: d.execute_script("return !previewBusy && !previewAgain"))  # the slider's last one is in
            slid = wait.until(preview_src)
            driver.find_element(By.CSS_SELECTOR, "input[name=method][data-transform=wct]").click()
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
