"""The HTML report as a person sees it: rendered by headless Chromium.

Debian's ``chromium`` is installed by .ci/run where it can be; this test skips,
saying why, only when no Chromium binary exists. The browser runs offline
(no network services, a throw-away profile) on the report of a real run: its
DOM must hold the title, every table, the key-results sentences and every plot
decoded to a real image, and its screenshot must be a real page, not a blank.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

BASE = Path(__file__).resolve().parents[2] / "scenarios" / "base.toml"
CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
PROBE = ("<script>window.addEventListener('load',function(){var n=0;"
         "for(const img of document.images){if(img.complete&&img.naturalWidth>0){n++;"
         "img.setAttribute('data-decoded',img.naturalWidth+'x'+img.naturalHeight);}}"
         "document.body.setAttribute('data-images-decoded',String(n));});</script>")
"""Added to a copy of the page only: marks each image the browser decoded."""
MEASURE = ("<script>window.addEventListener('load',function(){"
           "var page=document.documentElement.clientWidth,bad=[];"
           "for(const t of document.querySelectorAll('table')){"
           "var box=t.closest('.scroll'),r=t.getBoundingClientRect();"
           "var name=t.getAttribute('data-table')||t.getAttribute('data-key-table')||t.className;"
           "if(box){var b=box.getBoundingClientRect(),o=getComputedStyle(box).overflowX;"
           "if(b.right>page+0.5||(r.width>b.width+0.5&&o!=='auto'&&o!=='scroll')||"
           "box.scrollWidth+0.5<r.width){bad.push(name);}}"
           "else if(r.right>page+0.5){bad.push(name);}}"
           "var b=document.body;b.setAttribute('data-page-width',String(page));"
           "b.setAttribute('data-document-width',String(document.documentElement.scrollWidth));"
           "b.setAttribute('data-overflowing',bad.join(' '));"
           "var k=document.getElementById('key-results').getBoundingClientRect().top,"
           "s=document.getElementById('settings').getBoundingClientRect().top;"
           "b.setAttribute('data-key-above-settings',String(k<s));});</script>")
"""Added to a copy of the page only: measures, as laid out at the window's width, every
table against the page (a table wider than the page must sit in a box that scrolls
sideways, which itself fits the page) and where the key results are."""


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary (apt-get install chromium); .ci/run installs "
                             "it where it can")


def browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra,
                           page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180, env=env, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from cartsim.cli import main

    folder = tmp_path_factory.mktemp("browser") / "run"
    runner = CliRunner()
    for args in (["run", str(BASE), "--patients", "150", "--out", str(folder), "-q"],
                 ["report", str(folder), "-q"]):
        done = runner.invoke(main, args)
        assert done.exit_code == 0, done.output
    return folder


def test_browser_renders_every_element_of_the_report(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text((report / "report.html").read_text(encoding="utf-8")
                     .replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = browse(probe, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<title>cartsim report: CD19 CAR-T vs conventional immunosuppression" in dom
    plots = re.findall(r'<img [^>]*data-plot="([a-z_]+)"[^>]*>', dom)
    assert sorted(plots) == ["benefit_risk", "cumulative_cost", "remission_survival",
                             "state_occupancy"]
    sizes = re.findall(r'data-decoded="(\d+)x(\d+)"', dom)
    assert len(sizes) == len(plots)
    assert all(int(w) >= 800 and int(h) >= 500 for w, h in sizes)
    assert f'data-images-decoded="{len(plots)}"' in dom
    for table in sorted(p.stem for p in report.glob("*.csv")):
        assert f'data-table="{table}"' in dom, table
    with (report / "summary.csv").open(encoding="utf-8", newline="") as fh:
        car_t = next(r for r in csv.DictReader(fh) if r["strategy"] == "car_t")
    inmb = float(car_t["inmb_150000"])
    assert (f"At 150,000 USD 2024/QALY the incremental net monetary benefit of CD19 CAR-T "
            f"(single infusion) is {inmb:,.0f} USD 2024 per patient") in dom
    assert 'id="key-results"' in dom and 'id="manifest"' in dom


@pytest.mark.parametrize("width", [1280, 800])
def test_no_table_overflows_the_page_and_the_answer_comes_first(report, tmp_path, width):
    probe = tmp_path / "measure.html"
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page                          # the shipped page has none
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    done = browse(probe, tmp_path / "profile", f"--window-size={width},900", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    page_width = int(re.search(r'data-page-width="(\d+)"', dom).group(1))
    assert width - 20 <= page_width <= width
    assert f'data-document-width="{page_width}"' in dom   # nothing widens the page
    assert 'data-overflowing=""' in dom, re.search(r'data-overflowing="[^"]*"', dom).group(0)
    assert 'data-key-above-settings="true"' in dom
    assert dom.index('id="key-results"') < dom.index('id="plots"') < dom.index('id="tables"') \
        < dom.index('id="inputs"') < dom.index('id="settings"') < dom.index('id="manifest"')
    # The summary's 29 columns do not fit 800 pixels: its box scrolls, it is not clipped.
    assert 'data-table="summary"' in dom and 'data-key-table="summary"' in dom


def test_browser_screenshot_is_a_real_page(report, tmp_path):
    shot = tmp_path / "shot.png"
    done = browse(report / "report.html", tmp_path / "profile", f"--screenshot={shot}",
                  "--window-size=1280,4000", "--hide-scrollbars")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.stat().st_size > 50_000
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (4000, 1280)
    assert np.ptp(pixels) > 0.5                       # not a single colour
    ink = np.mean(np.any(pixels < 0.9, axis=-1))      # share of non-white pixels
    assert 0.05 < ink < 0.9
    colours = len(np.unique((pixels[::4, ::4] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours > 50                               # plots in colour, not just text
