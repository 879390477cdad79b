"""A Solara page with nothing of redoubt in it, for bench_page_memory.py --solara-only: the server memory that
Solara itself keeps for sessions that have closed (it shows the same text and Step button the benchmark drives).
With REDOUBT_BENCH_IMAGES=1 it also shows two PNG images a step, of about the size of the page's map and charts
(noise, 120 KB each), and gives memory back when a session closes as the page does (gc, malloc_trim): Solara's
share with images, and no model, no matplotlib."""

import ctypes
import gc
import io
import os
import threading

import numpy as np
import solara

IMAGES = os.environ.get("REDOUBT_BENCH_IMAGES") == "1"


def noise_png(seed: int) -> bytes:
    from PIL import Image

    pixels = (np.random.default_rng(seed).integers(0, 4, (432, 768)) * 60).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@solara.component
def Page():
    day = solara.use_reactive(0)
    solara.Text(f"23 August 2021, day {day.value} (a page without a model)")
    solara.Button("Step", on_click=lambda: day.set(day.value + 1))
    if IMAGES:
        solara.Image(noise_png(day.value), width="100%")
        solara.Image(noise_png(day.value + 1000), width="100%")


if IMAGES:
    @solara.lab.on_kernel_start
    def _release_on_close():
        def cleanup():
            def give_back():
                gc.collect()
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            threading.Timer(1.0, give_back).start()
        return cleanup
