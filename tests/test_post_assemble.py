"""assemble() on a tiny real film: frame-exact edit, overlays, loudness, ducking, captions, timelines, review page."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess

import numpy as np
import opentimelineio as otio
import pytest

from render_pipeline.media.ffmpeg import count_frames, ffmpeg_exe, probe
from render_pipeline.post import assemble
from render_pipeline.post.audio_mix import integrated_loudness
from render_pipeline.storyboard import load_storyboard
from tests.post_film import COLOURS, FPS, FakeAudio, band_level_db, ffmpeg, make_film_inputs, read_frames

FILM_FRAMES = 144  # (2.0 + 1.5 + 1.0 + 1.5) s at 24 fps


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    folder = tmp_path_factory.mktemp("film")
    storyboard, audio = make_film_inputs(folder)
    return assemble(storyboard, folder, audio=audio)


def colour_label(pixel: np.ndarray) -> str:
    """The shot whose colour this pixel is, or 'mixed' for a blend."""
    for shot_id, colour in COLOURS.items():
        if np.abs(pixel.astype(int) - colour).max() < 40:
            return shot_id
    return "mixed"


def test_film_is_the_sum_of_shot_durations_to_the_frame(film):
    assert film.frames == FILM_FRAMES
    assert count_frames(film.film) == FILM_FRAMES
    info = probe(film.film)
    assert abs(info.duration - FILM_FRAMES / FPS) <= 1 / FPS
    assert (info.width, info.height, info.fps, info.sample_rate) == (320, 180, 24.0, 48000)


def test_shots_are_padded_never_stretched(film):
    frame = read_frames(film.film)[10]  # s01: a square source in a 16:9 frame
    assert frame[90, 20].max() < 30, "pillarbox bars should be black"
    assert colour_label(frame[90, 160]) == "s01"
    assert colour_label(frame[90, 75]) == "s01" and frame[90, 65].max() < 30  # square: 180 px wide, centred


def test_short_shot_is_extended_to_its_duration(film):
    last = read_frames(film.film)[-1]
    assert colour_label(last[20, 20]) == "s04"


@pytest.mark.parametrize("timeline_name, adapter", [("timeline.otio", "otio_json"), ("timeline.xml", "fcp_xml")])
def test_timeline_cut_points_match_the_film(film, timeline_name, adapter):
    timeline = otio.adapters.read_from_file(str(film.film.parent / timeline_name), adapter_name=adapter)
    track = next(track for track in timeline.tracks if track.kind == otio.schema.TrackKind.Video)
    clips, spans = [], []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            cut = track.range_of_child(item).start_time.to_frames() + item.in_offset.to_frames()
            spans.append((cut - item.in_offset.to_frames(), cut + item.out_offset.to_frames(), item.name))
        else:
            span = track.range_of_child(item)
            clips.append((item.name, span.start_time.to_frames(), span.end_time_exclusive().to_frames()))
    assert [(name, start) for name, start, _ in clips] == [("s01", 0), ("s02", 48), ("s03", 84), ("s04", 108)]
    assert clips[-1][2] == FILM_FRAMES
    assert [(start, end) for start, end, _ in spans] == [(42, 54), (105, 111)]

    samples = read_frames(film.film, crop="10:10:150:20")[:, 5, 5]
    labels = [colour_label(pixel) for pixel in samples]
    for name, start, end in clips:
        for number in range(start, end):
            if not any(first < number < last for first, last, _ in spans):
                assert labels[number] == name, f"frame {number} should show {name}, not {labels[number]}"
    # The cross-dissolve from red to green is linear over its span: half-way exactly on the cut.
    first, last, _ = spans[0]
    green_share = samples[first:last + 1, 1] / 255
    expected = np.linspace(0, 1, last - first + 1)
    assert np.abs(green_share - expected).max() < 0.06, green_share.round(2)


def test_title_pixels_only_inside_its_window(film):
    # The title on s02 runs 0.2-1.3 s into the shot: film frames 52.8-79.2, fading 0.4 s each way.
    band = read_frames(film.film, crop="320:60:0:60")
    white = (band.min(axis=3) > 200).sum(axis=(1, 2))
    assert all(white[n] > 50 for n in range(62, 70)), white[50:82]
    # Up to the wipe at frame 105, whose blue/yellow edge turns whitish in 4:2:0 chroma.
    assert not white[:52].any() and not white[80:104].any(), np.nonzero(white)[0]


def test_loudness_and_true_peak(film):
    assert abs(film.loudness_lufs - -16) <= 1.0
    assert film.true_peak_db <= -1.5


def test_music_is_ducked_under_narration(film):
    # Narration (a 1 kHz tone) plays 2.0-3.0 s over a 220 Hz bed; compare the bed with and without it.
    open_level = band_level_db(film.film, 150, 300, 0.5, 1.5)
    ducked_level = band_level_db(film.film, 150, 300, 2.3, 2.9)
    assert 10 <= open_level - ducked_level <= 15, (open_level, ducked_level)


def test_the_stems_summed_are_the_films_mix(film, tmp_path):
    """The timelines' sound: the stems played together measure as final.mp4 does, the music stem ducked."""
    narration, music = (film.film.parent / "stems" / name for name in ("narration.wav", "music.wav"))
    assert film.stems == (narration, music)
    summed = tmp_path / "summed.wav"
    ffmpeg("-i", str(narration), "-i", str(music), "-filter_complex", "amix=inputs=2:normalize=0", str(summed))
    assert abs(integrated_loudness(summed)[0] - integrated_loudness(film.film)[0]) <= 0.5
    open_level = band_level_db(music, 150, 300, 0.5, 1.5)
    ducked_level = band_level_db(music, 150, 300, 2.3, 2.9)
    assert 10 <= open_level - ducked_level <= 15, (open_level, ducked_level)
    assert band_level_db(narration, 900, 1100, 2.2, 2.8) > band_level_db(narration, 900, 1100, 0.5, 1.5) + 40


def test_captions_follow_the_measured_sentences(film):
    assert film.srt.read_text(encoding="utf-8") == (
        "1\n00:00:02,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:02,500 --> 00:00:03,000\nSecond one.\n")
    assert film.vtt.read_text(encoding="utf-8") == (
        "WEBVTT\n\n00:00:02.000 --> 00:00:02.500\nHello there.\n\n00:00:02.500 --> 00:00:03.000\nSecond one.\n")


@pytest.mark.needs("chromium")
def test_review_page_renders_every_shot_in_a_browser(film, tmp_path):
    browser = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-extensions", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    page = film.review.resolve().as_uri()
    dom = subprocess.run([*browser, "--dump-dom", page], capture_output=True, text=True, timeout=60).stdout
    for shot_id in COLOURS:
        assert f'id="shot-{shot_id}"' in dom
    assert dom.count('src="data:image/jpeg;base64,') == 4
    assert "HARBOR" in dom  # text taken out of s03's prompt, shown with its caption overlay
    assert "12.5 s" in dom and "<dd>done</dd>" in dom  # from the runner's manifest
    screenshot = tmp_path / "review.png"
    subprocess.run([*browser, "--window-size=1400,1200", f"--screenshot={screenshot}", page],
                   capture_output=True, timeout=60)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(screenshot), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-"], check=True, capture_output=True).stdout
    pixels = np.frombuffer(raw, np.uint8).reshape(-1, 3)
    for shot_id, colour in COLOURS.items():  # every thumbnail was decoded and painted
        assert (np.abs(pixels.astype(int) - colour).max(axis=1) < 40).sum() > 2000, shot_id


def test_loudness_reported_is_the_films(film):
    assert integrated_loudness(film.film) == (film.loudness_lufs, film.true_peak_db)


def test_film_index_comes_before_its_media(film):
    data = film.film.read_bytes()
    boxes, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset + 4:offset + 8].decode("ascii"))
        offset += size
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def decode_jpeg(data: bytes) -> np.ndarray:
    result = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                            input=data, check=True, capture_output=True)
    return np.frombuffer(result.stdout, np.uint8).reshape(-1, 320, 3)


def test_review_thumbnails_show_each_shot_in_order_as_the_film_shows_it(film):
    page = film.review.read_text(encoding="utf-8")
    images = re.findall(r'<article class="shot" id="shot-(\w+)"[^>]*><h2>.*?</h2><button [^>]*>'
                        r'<img alt="[^"]*" src="data:image/jpeg;base64,([^"]+)"', page)
    assert [shot_id for shot_id, _ in images] == list(COLOURS)
    for shot_id, encoded in images:
        pixels = decode_jpeg(base64.b64decode(encoded))
        assert pixels.shape == (180, 320, 3), shot_id  # the film's frame, scaled to the page's width
        assert colour_label(pixels[20, 160]) == shot_id
        # Titles and captions are burned in: s01 has none, s02 its title, s03 and s04 a caption. Lettering
        # is neither the shot's colour nor the black that pads a shot of another shape.
        far = np.abs(pixels.astype(int) - COLOURS[shot_id]).max(axis=2) > 100
        lettered = (far & (pixels.max(axis=2) > 100)).sum()
        assert (lettered > 40) == (shot_id != "s01"), (shot_id, lettered)  # measured: 0, 230, 99, 365


def test_review_page_loads_nothing_but_the_film_beside_it(film):
    page = film.review.read_text(encoding="utf-8")
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sorted(set(link for link in links if not link.startswith("data:image/jpeg;base64,"))) == ["final.mp4"]
    assert "://" not in page and "@import" not in page and "url(" not in page


@pytest.mark.needs("chromium")
def test_review_page_plays_the_film_and_a_thumbnail_seeks_to_its_shot(film, tmp_path):
    """The page as written, with a check appended: wait for the film, click s03's picture, report where it went."""
    check = """<script>
const report = (data) => { const out = document.createElement("pre"); out.id = "check";
  out.textContent = JSON.stringify(data); document.body.append(out); };
const video = document.getElementById("film");
const loaded = () => {
  video.addEventListener("seeked", () => report({ready: video.readyState, time: video.currentTime,
    current: [...document.querySelectorAll("article.current")].map((card) => card.id)}), {once: true});
  document.querySelector("#shot-s03 button.seek").click();
};
if (video.readyState >= 2) loaded(); else video.addEventListener("loadeddata", loaded, {once: true});
video.addEventListener("error", () => report({error: video.error.code}));
</script></body>"""
    checked = film.review.with_name("review-check.html")  # beside the film, as the page itself is
    checked.write_text(film.review.read_text(encoding="utf-8").replace("</body>", check), encoding="utf-8")
    browser = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-extensions", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
               "--virtual-time-budget=20000", "--dump-dom", checked.resolve().as_uri()]
    dom = subprocess.run(browser, capture_output=True, text=True, timeout=120).stdout
    checked.unlink()
    found = re.search(r'<pre id="check">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result.get("ready", 0) >= 2, result
    assert result["time"] == pytest.approx(3.5, abs=0.5 / FPS)  # s03 starts at (2.0 + 1.5) s
    assert result["current"] == ["shot-s03"]


CUTS_ONLY = """\
version: 1
title: Cuts
delivery: {size: 320x180, fps: 24, loudness_lufs: -16}
defaults: {backend: animatic}
shots:
  - {id: s01, duration: 0.5, prompt: red}
  - {id: s02, duration: 0.5, prompt: green}
"""


def test_film_of_cuts_only_and_no_sound(tmp_path):
    (tmp_path / "storyboard.yaml").write_text(CUTS_ONLY, encoding="utf-8")
    storyboard = load_storyboard(tmp_path / "storyboard.yaml")
    (tmp_path / "shots").mkdir()
    for shot_id in ("s01", "s02"):
        red, green, blue = COLOURS[shot_id]
        ffmpeg("-f", "lavfi", "-i", f"color=c=0x{red:02x}{green:02x}{blue:02x}:s=320x180:r=24", "-t", "0.5",
               "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast",
               str(tmp_path / "shots" / f"{shot_id}.mp4"))
    result = assemble(storyboard, tmp_path, audio=FakeAudio(narration={}, music_bed=None))
    labels = [colour_label(frame[90, 160]) for frame in read_frames(result.film)]
    assert labels == ["s01"] * 12 + ["s02"] * 12
    assert result.loudness_lufs <= -70  # silence, left as it is
    assert result.review.read_text(encoding="utf-8").count('src="data:image/jpeg;base64,') == 2
