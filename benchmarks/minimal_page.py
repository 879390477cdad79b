"""A Solara page with nothing of redoubt in it, for bench_page_memory.py --solara-only: the server memory that
Solara itself keeps for sessions that have closed (it shows the same text and Step button the benchmark drives)."""

import solara


@solara.component
def Page():
    day = solara.use_reactive(0)
    solara.Text(f"23 August 2021, day {day.value} (a page without a model)")
    solara.Button("Step", on_click=lambda: day.set(day.value + 1))
